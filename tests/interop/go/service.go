// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The service both peers implement (tests/interop/interop_peer.c is the C
// one).  Messages are google.protobuf.BytesValue / StringValue: one
// length-delimited field 1, so the C side reads them as any such message.
//
//	Echo(BytesValue) BytesValue     answers the request unchanged
//	Fail(StringValue "CODE MSG")    fails with status CODE and message MSG
//	Meta(StringValue KEY) StringValue  the request's first metadata value
//	                                for KEY, NOT_FOUND if there is none
//	Deadline(StringValue) StringValue  "none", or the milliseconds left
//	                                before the caller's deadline
const serviceName = "kc.interop.Echo"

func echoMethod(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req types.BytesValue
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	return &req, nil
}

func failMethod(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req types.StringValue
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	fields := strings.SplitN(req.Value, " ", 2)
	code, err := strconv.Atoi(fields[0])
	if err != nil || len(fields) != 2 {
		return nil, status.Errorf(codes.InvalidArgument, "bad Fail request %q", req.Value)
	}
	return nil, status.Error(codes.Code(code), fields[1])
}

func metaMethod(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req types.StringValue
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	v, ok := ttrpc.GetMetadataValue(ctx, req.Value)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no metadata %q", req.Value)
	}
	return &types.StringValue{Value: v}, nil
}

func deadlineMethod(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var req types.StringValue
	if err := unmarshal(&req); err != nil {
		return nil, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return &types.StringValue{Value: "none"}, nil
	}
	return &types.StringValue{Value: strconv.FormatInt(time.Until(dl).Milliseconds(), 10)}, nil
}

func newServer() (*ttrpc.Server, error) {
	s, err := ttrpc.NewServer()
	if err != nil {
		return nil, err
	}
	s.Register(serviceName, map[string]ttrpc.Method{
		"Echo":     echoMethod,
		"Fail":     failMethod,
		"Meta":     metaMethod,
		"Deadline": deadlineMethod,
	})
	return s, nil
}

// serve runs the service on a unix socket until SIGTERM or SIGINT.
func serve(path string) error {
	s, err := newServer()
	if err != nil {
		return err
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	errs := make(chan error, 1)
	go func() { errs <- s.Serve(context.Background(), l) }()
	select {
	case <-sigs:
	case err := <-errs:
		return fmt.Errorf("serve %s: %w", path, err)
	}
	s.Close()
	os.Remove(path)
	return nil
}

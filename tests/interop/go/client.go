// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// report prints one unnumbered TAP line (the driving script numbers them)
// and, on failure, the reason as a diagnostic.
type report struct{ failed int }

func (r *report) check(desc string, err error) {
	if err == nil {
		fmt.Printf("ok - Go client -> C server: %s\n", desc)
		return
	}
	r.failed++
	fmt.Printf("not ok - Go client -> C server: %s\n", desc)
	for _, l := range strings.Split(err.Error(), "\n") {
		fmt.Printf("#   %s\n", l)
	}
}

func dial(path string) (*ttrpc.Client, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			return ttrpc.NewClient(conn), nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pattern(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func echo(ctx context.Context, c *ttrpc.Client, payload []byte) error {
	var resp types.BytesValue
	if err := c.Call(ctx, serviceName, "Echo", &types.BytesValue{Value: payload}, &resp); err != nil {
		return err
	}
	if !bytes.Equal(resp.Value, payload) {
		return fmt.Errorf("echo of %d bytes came back as %d different bytes", len(payload), len(resp.Value))
	}
	return nil
}

// expectStatus calls Fail and checks that code and message came back intact.
func expectStatus(ctx context.Context, c *ttrpc.Client, code codes.Code, msg string) error {
	var resp types.StringValue
	req := &types.StringValue{Value: fmt.Sprintf("%d %s", code, msg)}
	err := c.Call(ctx, serviceName, "Fail", req, &resp)
	if err == nil {
		return fmt.Errorf("Fail(%d) succeeded", code)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("Fail(%d): not a status: %v", code, err)
	}
	if st.Code() != code || st.Message() != msg {
		return fmt.Errorf("Fail: sent code %d message %.60q, got code %d message %.60q",
			code, msg, st.Code(), st.Message())
	}
	return nil
}

func expectCode(err error, code codes.Code) error {
	if err == nil {
		return fmt.Errorf("call succeeded, want %v", code)
	}
	if got := status.Code(err); got != code {
		return fmt.Errorf("got %v (%v), want %v", got, err, code)
	}
	return nil
}

// hammer runs `workers` goroutines of `calls` calls each on client c,
// interleaving echoes of distinct payloads with failures carrying distinct
// messages, so that a mixed-up stream id shows as a wrong answer.
func hammer(c *ttrpc.Client, id, workers, calls int) error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < calls; i++ {
				var err error
				if i%5 == 4 {
					err = expectStatus(ctx, c, codes.Code(1+(w+i)%16),
						fmt.Sprintf("conn %d worker %d call %d", id, w, i))
				} else {
					seed := int64(id*1000000 + w*1000 + i)
					err = echo(ctx, c, pattern(int(seed%3000), seed))
				}
				if err != nil {
					errs <- fmt.Errorf("conn %d worker %d call %d: %w", id, w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func runClient(path string) int {
	r := &report{}
	c, err := dial(path)
	if err != nil {
		r.check("connect", err)
		return r.failed
	}
	defer c.Close()
	ctx := context.Background()

	r.check("echo of an empty message (0 bytes)", echo(ctx, c, nil))
	r.check("echo of a small message", echo(ctx, c, []byte("hello, kata-c")))
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	r.check("echo of all 256 byte values (NULs included)", echo(ctx, c, all))
	r.check("echo of 1 MiB", echo(ctx, c, pattern(1<<20, 1)))
	r.check("echo of 4 MiB - 1 KiB (near the message limit)", echo(ctx, c, pattern(4<<20-1024, 2)))

	r.check("error status NOT_FOUND with its message",
		expectStatus(ctx, c, codes.NotFound, "no task abc"))
	var bad []string
	for code := codes.Canceled; code <= codes.Unauthenticated; code++ {
		if err := expectStatus(ctx, c, code, "code "+strconv.Itoa(int(code))); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		err = fmt.Errorf("%s", strings.Join(bad, "\n"))
	} else {
		err = nil
	}
	r.check("error codes 1..16 each cross intact", err)
	long := strings.Repeat("ünïcødé ✓ ", 1000)
	r.check("error message of 14 KB of UTF-8 crosses intact",
		expectStatus(ctx, c, codes.FailedPrecondition, long))

	var sv types.StringValue
	r.check("unknown method is UNIMPLEMENTED",
		expectCode(c.Call(ctx, serviceName, "Nope", &types.Empty{}, &sv), codes.Unimplemented))
	r.check("unknown service is UNIMPLEMENTED",
		expectCode(c.Call(ctx, "kc.interop.Nope", "Echo", &types.Empty{}, &sv), codes.Unimplemented))
	r.check("connection still usable after failures", echo(ctx, c, []byte("still here")))

	md := ttrpc.MD{}
	md.Set("containerd-namespace-ttrpc", "k8s.io")
	md.Set("x-kc-trace", "trace-0123456789")
	mctx := ttrpc.WithMetadata(ctx, md)
	err = c.Call(mctx, serviceName, "Meta", &types.StringValue{Value: "x-kc-trace"}, &sv)
	if err == nil && sv.Value != "trace-0123456789" {
		err = fmt.Errorf("server saw %q", sv.Value)
	}
	r.check("metadata reaches the server", err)
	err = c.Call(mctx, serviceName, "Meta", &types.StringValue{Value: "containerd-namespace-ttrpc"}, &sv)
	if err == nil && sv.Value != "k8s.io" {
		err = fmt.Errorf("server saw %q", sv.Value)
	}
	r.check("second metadata key reaches the server", err)
	r.check("absent metadata key is NOT_FOUND",
		expectCode(c.Call(ctx, serviceName, "Meta", &types.StringValue{Value: "x-kc-trace"}, &sv), codes.NotFound))

	err = c.Call(ctx, serviceName, "Deadline", &types.StringValue{}, &sv)
	if err == nil && sv.Value != "none" {
		err = fmt.Errorf("server saw a deadline: %q", sv.Value)
	}
	r.check("no deadline: server sees none", err)
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = c.Call(dctx, serviceName, "Deadline", &types.StringValue{}, &sv)
	cancel()
	if err == nil {
		ms, perr := strconv.Atoi(sv.Value)
		if perr != nil || ms <= 0 || ms > 5000 {
			err = fmt.Errorf("server saw deadline %q, want 0 < ms <= 5000", sv.Value)
		}
	}
	r.check("5 s deadline (timeout_nano) reaches the server", err)

	r.check("50 goroutines x 100 calls on one connection (echo and errors interleaved)",
		hammer(c, 0, 50, 100))

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 1; i <= 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cc, err := dial(path)
			if err == nil {
				err = hammer(cc, i, 8, 50)
				cc.Close()
			}
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	r.check("8 connections x 8 goroutines x 50 calls at once", <-errs)
	return r.failed
}

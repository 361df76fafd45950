// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
)

// bench measures unary Echo round trips with the server and the client in
// this process, over a unix socket and one connection: `callers`
// goroutines share the client, each with one call in flight.  Calls made
// during the warm-up are not counted.  Prints
//
//	calls=N seconds=S calls_per_s=R p50_us=A p99_us=B
func bench(callers int, secs, warmup float64, size int) error {
	dir, err := os.MkdirTemp("", "kc-bench-go-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s.sock")
	s, err := newServer()
	if err != nil {
		return err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	go s.Serve(context.Background(), l)
	defer s.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()

	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var measuring, stop int32
	lat := make([][]time.Duration, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for w := 0; w < callers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			req := &types.BytesValue{Value: payload}
			l := make([]time.Duration, 0, 1<<16)
			for atomic.LoadInt32(&stop) == 0 {
				var resp types.BytesValue
				t0 := time.Now()
				if err := c.Call(ctx, serviceName, "Echo", req, &resp); err != nil {
					errs <- err
					return
				}
				d := time.Since(t0)
				if len(resp.Value) != size {
					errs <- fmt.Errorf("echo answered %d bytes, sent %d", len(resp.Value), size)
					return
				}
				if atomic.LoadInt32(&measuring) != 0 {
					l = append(l, d)
				}
			}
			lat[w] = l
		}(w)
	}
	time.Sleep(time.Duration(warmup * float64(time.Second)))
	t0 := time.Now()
	atomic.StoreInt32(&measuring, 1)
	time.Sleep(time.Duration(secs * float64(time.Second)))
	atomic.StoreInt32(&measuring, 0)
	elapsed := time.Since(t0)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return fmt.Errorf("no calls completed")
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		return float64(all[int(p*float64(len(all)-1))]) / 1e3
	}
	fmt.Printf("calls=%d seconds=%.3f calls_per_s=%.0f p50_us=%.1f p99_us=%.1f\n",
		len(all), elapsed.Seconds(), float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99))
	return nil
}

// SPDX-License-Identifier: Apache-2.0

// kc-interop-go: the Go reference side of the ttrpc interop tests and of
// bench/ttrpc, built from Debian's containerd/ttrpc (GOPATH mode, offline).
//
//	kc-interop-go serve SOCKET      serve kc.interop.Echo until SIGTERM
//	kc-interop-go client SOCKET     call a kata-c server, print ok/not ok lines
//	kc-interop-go bench CALLERS SECONDS WARMUP_SECONDS [SIZE]
//	                                client and server in this process, one
//	                                connection, CALLERS goroutines calling
//	                                Echo; prints one `calls=... ` line
package main

import (
	"fmt"
	"os"
	"strconv"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kc-interop-go serve SOCKET | client SOCKET | bench CALLERS SECONDS WARMUP_SECONDS [SIZE]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "client":
		if runClient(os.Args[2]) > 0 {
			os.Exit(1)
		}
	case "bench":
		if len(os.Args) < 5 {
			usage()
		}
		callers, e1 := strconv.Atoi(os.Args[2])
		secs, e2 := strconv.ParseFloat(os.Args[3], 64)
		warm, e3 := strconv.ParseFloat(os.Args[4], 64)
		size := 32
		var e4 error
		if len(os.Args) > 5 {
			size, e4 = strconv.Atoi(os.Args[5])
		}
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil || callers < 1 || size < 0 {
			usage()
		}
		err = bench(callers, secs, warm, size)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kc-interop-go: %v\n", err)
		os.Exit(1)
	}
}

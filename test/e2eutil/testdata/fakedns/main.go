// Command fakedns stands in for a CoreDNS binary in e2eutil's own tests.
// Its -conf file holds one line: the port to serve /ready on (127.0.0.1).
// FAKE_TAKEN names a file: while it does not exist, fakedns creates it and
// exits as CoreDNS does when a port is taken. FAKE_RACE set makes two
// goroutines write one variable, which a -race build reports.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 3 || os.Args[1] != "-conf" {
		fmt.Fprintln(os.Stderr, "usage: fakedns -conf FILE")
		os.Exit(2)
	}
	conf, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if marker := os.Getenv("FAKE_TAKEN"); marker != "" {
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o644)
			fmt.Println("Error: listen tcp 127.0.0.1:1: bind: address already in use")
			os.Exit(1)
		}
	}
	if os.Getenv("FAKE_RACE") != "" {
		race()
	}
	http.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	// SO_REUSEPORT, as CoreDNS's ready plugin listens (e2eutil reserves
	// the port with a socket of its own until the server is ready).
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+strings.TrimSpace(string(conf)))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(http.Serve(l, nil))
}

// race writes n from two goroutines without synchronization.
func race() {
	n := 0
	done := make(chan bool)
	go func() { n++; done <- true }()
	n++
	<-done
	fmt.Println("n =", n)
}

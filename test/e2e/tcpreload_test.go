package e2e

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestTCPCapReload reloads the Corefile (SIGUSR1) under a TCP client
// asking in a loop, a new connection each query: a reload that changes
// the TTL and the cap keeps Meridian's TCP sockets (the old instance
// answers until the new one is ready; no query fails), and one that
// removes max_tcp_connections closes them, so that CoreDNS's own socket
// answers. After the second reload, SERVFAILs (Not Ready) from CoreDNS's
// socket are counted, as TestFastPathReload counts them (the new instance
// says so until its first snapshot), and so are connection resets: a
// listening socket that closes resets the connections in its accept
// queue.
func TestTCPCapReload(t *testing.T) {
	s := startDemo(t)
	port := s.Ports.DNS
	if n := tcpListeners(t, port); n < 2 {
		t.Fatalf("%d TCP listening sockets on port %d, want Meridian's (one per CPU) and CoreDNS's", n, port)
	}
	stop := make(chan struct{})
	done := make(chan string)
	var second atomic.Bool
	var sawTTL40 atomic.Bool
	go func() {
		var errs []string
		servfails, resets, n := 0, 0, 0
		for ; ; n++ {
			select {
			case <-stop:
				t.Logf("%d TCP queries; after the second reload, %d SERVFAILs (Not Ready) and %d connections reset", n, servfails, resets)
				done <- strings.Join(errs, "; ")
				return
			default:
			}
			late := second.Load()
			r, err := s.Exchange("tcp", nginx, dns.TypeA, "81.0.0.0/24")
			switch {
			case err == nil && r.Rcode == dns.RcodeServerFailure && late:
				servfails++
			case err != nil && late && errors.Is(err, syscall.ECONNRESET):
				resets++ // in the accept queue of a socket that closed
			case err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0:
				errs = append(errs, fmt.Sprintf("query %d (second reload begun: %v): %v %v", n, late, err, r))
			case r.Answer[0].Header().Ttl == 40:
				sawTTL40.Store(true)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	reload := func(oldNew ...string) {
		t.Helper()
		b, err := os.ReadFile(s.Corefile)
		if err != nil {
			t.Fatal(err)
		}
		corefile := string(b)
		for i := 0; i < len(oldNew); i += 2 {
			if !strings.Contains(corefile, oldNew[i]) {
				t.Fatalf("%q not in the Corefile", oldNew[i])
			}
			corefile = strings.Replace(corefile, oldNew[i], oldNew[i+1], 1)
		}
		if err := os.WriteFile(s.Corefile, []byte(corefile), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(s.Pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	listeners := tcpListeners(t, port)
	reload("ttl 30\n        negative_ttl", "ttl 40\n        negative_ttl", "max_tcp_connections 1000", "max_tcp_connections 500")
	e2eutil.Eventually(t, 15*time.Second, "TTL 40 over TCP", sawTTL40.Load)
	e2eutil.Eventually(t, 10*time.Second, "the new cap bound", func() bool {
		return strings.Contains(s.Out.String(), fmt.Sprintf("tcp cap on %s: 500 connections", s.DNS))
	})
	if n := tcpListeners(t, port); n != listeners {
		t.Errorf("%d TCP listening sockets after the reloads, want the %d before", n, listeners)
	}

	second.Store(true)
	reload("        max_tcp_connections 500\n", "")
	e2eutil.Eventually(t, 10*time.Second, "Meridian's TCP sockets closed", func() bool { return tcpListeners(t, port) == 1 })
	time.Sleep(time.Second)
	close(stop)
	if errs := <-done; errs != "" {
		t.Errorf("the looping TCP client saw failures across the reloads: %s", errs)
	}
}

// tcpListeners counts the TCP sockets listening on 127.0.0.1:port
// (/proc/net/tcp: the test and the server share the network namespace).
func tcpListeners(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == local && f[3] == "0A" {
			n++
		}
	}
	return n
}

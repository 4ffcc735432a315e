package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// epoch is where the tests' fake clocks start.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testLogger records what is logged.
type testLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLogger) Debugf(format string, args ...any) { l.add("D " + fmt.Sprintf(format, args...)) }

func (l *testLogger) Infof(format string, args ...any) { l.add("I " + fmt.Sprintf(format, args...)) }

func (l *testLogger) Warningf(format string, args ...any) {
	l.add("W " + fmt.Sprintf(format, args...))
}

func (l *testLogger) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *testLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// results collects what a Prober's OnResult reports.
type results struct {
	ch      chan Result
	dropped atomic.Int64
}

func newResults() *results { return &results{ch: make(chan Result, 4096)} }

func (r *results) add(res Result) {
	select {
	case r.ch <- res:
	default:
		r.dropped.Add(1)
	}
}

// next returns the next result, failing t if none comes within wait.
func (r *results) next(t *testing.T, wait time.Duration) Result {
	t.Helper()
	select {
	case res := <-r.ch:
		return res
	case <-time.After(wait):
		t.Fatalf("no probe result within %v", wait)
		return Result{}
	}
}

// until reads results until n in a row have OK == ok, at most max of them,
// and returns them.
func (r *results) until(t *testing.T, ok bool, n, max int) []Result {
	t.Helper()
	var got []Result
	for run := 0; run < n; {
		if len(got) == max {
			t.Fatalf("no %d results in a row with OK=%v in %d: %s", n, ok, max, seq(got))
		}
		res := r.next(t, 3*time.Second)
		got = append(got, res)
		if res.OK == ok {
			run++
		} else {
			run = 0
		}
	}
	return got
}

// seq renders results as "+" (passed) and "-" (failed), with "v" and "^"
// after the ones that took the target down and up.
func seq(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.OK {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
		if r.Changed {
			if r.Up {
				b.WriteByte('^')
			} else {
				b.WriteByte('v')
			}
		}
	}
	return b.String()
}

// startProber makes a Prober and runs it until the test ends.
func startProber(t *testing.T, cfg ProberConfig) *Prober {
	t.Helper()
	p := NewProber(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of its context's end")
		}
	})
	return p
}

// key returns the TargetKey of service name's address a in cluster c1.
func key(name string, a netip.AddrPort) TargetKey {
	return TargetKey{Key: Key{Cluster: "c1", Namespace: "ns", Name: name}, Addr: a}
}

// fastSpec returns a spec of check c with a short interval, rise 2, fall 3.
// The timeout leaves a passing probe of a loopback server room on a loaded
// 2-core machine under -race, with parallel subtests: a probe that timed
// out there would be a failure the test did not cause. A TLS handshake
// under -race on such a machine has taken over 250 ms.
func fastSpec(c Check) Spec {
	s := DefaultSpec()
	s.Check, s.Interval = c, 500*time.Millisecond
	if c == HTTPS {
		s.Interval = time.Second
	}
	s.Timeout = s.Interval
	return s
}

// deadPort returns a 127.0.0.1 address nothing listens on, and keeps it so
// until the test ends: the port is the local end of a connection the test
// holds open, so no other listener can take it, and a connection to it is
// refused (the kernel answers the SYN with a reset).
func deadPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return netip.MustParseAddrPort(c.LocalAddr().String())
}

package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTCPIdleCost measures what idle TCP connections cost the process:
// MERIDIAN_TCP_COST=N clients each open a connection, ask one query, read
// the answer and stay idle (CoreDNS's idle timeout, 10 s in the demo,
// keeps them), first with no cap, then with the demo's cap of 1000; the
// test reports the process's RSS, file descriptors and goroutines with
// them held. It checks only that the cap holds the count. Skipped unless
// MERIDIAN_TCP_COST is set.
func TestTCPIdleCost(t *testing.T) {
	var n int
	if _, err := fmt.Sscan(os.Getenv("MERIDIAN_TCP_COST"), &n); err != nil || n <= 0 {
		t.Skip("MERIDIAN_TCP_COST=N measures N idle connections")
	}
	for _, tc := range []struct {
		name     string
		rewrites []string
		cap      int
	}{
		{"no cap", []string{"max_tcp_connections 1000", "", "idle 10s", "idle 60s"}, 0},
		{"cap 1000", []string{"idle 10s", "idle 60s"}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startDemoWith(t, tc.rewrites...)
			time.Sleep(time.Second)
			rss0, fds0, gor0 := s.RSS(t), fdCount(t, s.Pid), metricValue(s.Scrape(t), "go_goroutines")
			q := new(dns.Msg)
			q.SetQuestion(nginx, dns.TypeA)
			var conns []*dns.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			start := time.Now()
			for range n {
				c, err := dns.Dial("tcp", s.DNS)
				if err != nil {
					t.Fatalf("after %d connections: %v", len(conns), err)
				}
				conns = append(conns, c)
				c.SetDeadline(time.Now().Add(2 * time.Second))
				if err := c.WriteMsg(q); err != nil {
					continue // evicted already, at the cap
				}
				c.ReadMsg()
			}
			opened := time.Since(start)
			time.Sleep(500 * time.Millisecond)
			rss, fds, gor := s.RSS(t), fdCount(t, s.Pid), metricValue(s.Scrape(t), "go_goroutines")
			t.Logf("%d connections opened in %v: RSS %d -> %d MiB (+%d KiB per connection), fds %d -> %d, goroutines %v -> %v",
				n, opened.Round(time.Millisecond), rss0>>20, rss>>20, (rss-rss0)/1024/int64(n), fds0, fds, gor0, gor)
			if tc.cap > 0 && fds > fds0+tc.cap+16 {
				t.Errorf("%d fds with a cap of %d (%d before)", fds, tc.cap, fds0)
			}
		})
	}
}

package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// floodResult is what a flood of queries from one source got back.
type floodResult struct {
	sent, answered, slipped, other int
	elapsed                        time.Duration
}

// flood sends n queries that next makes from local (a loopback address,
// so a client network of its own) to server, paced at about qps, and
// counts the replies that come within a second of the last: answers (any
// rcode, not truncated) and slipped ones (TC set, no records).
func flood(t *testing.T, local, server string, n, qps int, next func(i int) *dns.Msg) floodResult {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(local), 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	var r floodResult
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			m := new(dns.Msg)
			mu.Lock()
			switch {
			case m.Unpack(buf[:n]) != nil:
				r.other++
			case m.Truncated && len(m.Answer) == 0:
				r.slipped++
			case !m.Truncated:
				r.answered++
			default:
				r.other++
			}
			mu.Unlock()
		}
	}()
	start := time.Now()
	for i := range n {
		pkt, err := next(i).Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteToUDP(pkt, to); err != nil {
			t.Fatal(err)
		}
		r.sent++
		if wait := time.Duration(i+1)*time.Second/time.Duration(qps) - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
	}
	elapsed := time.Since(start)
	time.Sleep(time.Second)
	c.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	r.elapsed = elapsed
	return r
}

// TestRRL runs the demo's authoritative role with response rate limiting
// (rate 40, slip 2) and floods it (issue 16, item 3):
//   - one name's A record from 127.0.0.2 (a client network, 127.0.0.0/24,
//     of its own) at 1,000 queries a second for 3 s, through the fast
//     path: the answers are cut to the rate (plus the first second's
//     burst), half of the rest come back truncated (TC), the rest nothing;
//   - meanwhile a client in another /24 (127.0.1.2) asking the same name
//     ten times a second gets every answer;
//   - random names that do not exist from 127.0.0.3 (NXDOMAIN, through
//     the chain): cut to the rate, for all the names together;
//   - the flooding client over TCP is not limited.
//
// The server's own counters agree with what the clients saw.
func TestRRL(t *testing.T) {
	const rate = 40
	s := startDemoWith(t, "        fastpath\n", fmt.Sprintf("        fastpath\n        rrl %d\n        rrl_slip 2\n", rate))
	before := s.Scrape(t)
	ask := func(name string, qtype uint16) func(int) *dns.Msg {
		return func(int) *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			m.Id = dns.Id()
			return m
		}
	}

	var wg sync.WaitGroup
	var other floodResult
	wg.Go(func() {
		time.Sleep(500 * time.Millisecond) // into the flood
		other = flood(t, "127.0.1.2", s.DNS, 20, 10, ask(nginx, dns.TypeA))
	})
	a := flood(t, "127.0.0.2", s.DNS, 3000, 1000, ask(nginx, dns.TypeA))
	wg.Wait()
	t.Logf("A flood: %d sent in %v, %d answered, %d slipped, %d other; the other client: %d of %d answered",
		a.sent, a.elapsed.Round(time.Millisecond), a.answered, a.slipped, a.other, other.answered, other.sent)
	checkLimited(t, "A flood", a, rate)
	if other.answered != other.sent || other.slipped != 0 {
		t.Errorf("the client in another /24: %d of %d answered, %d slipped; want every one answered", other.answered, other.sent, other.slipped)
	}

	nx := flood(t, "127.0.0.3", s.DNS, 600, 300, func(int) *dns.Msg {
		return ask(fmt.Sprintf("n%d.nothing.example.com.", rand.Uint32()), dns.TypeA)(0)
	})
	t.Logf("NXDOMAIN flood of random names: %d sent in %v, %d answered, %d slipped", nx.sent, nx.elapsed.Round(time.Millisecond), nx.answered, nx.slipped)
	checkLimited(t, "NXDOMAIN flood", nx, rate)

	for i := range 20 {
		if r, err := s.Exchange("tcp", nginx, dns.TypeA, ""); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("TCP query %d from the flooding address: %v %v, want an answer", i, r, err)
		}
	}

	after := s.Scrape(t)
	delta := func(series string) int {
		return int(metricValue(after, series) - max(metricValue(before, series), 0))
	}
	dropped := delta(`coredns_meridian_rrl_replies_total{action="dropped",class="response"}`)
	slipped := delta(`coredns_meridian_rrl_replies_total{action="slipped",class="response"}`)
	if dropped+slipped != a.sent-a.answered || slipped != a.slipped {
		t.Errorf("server counted %d dropped and %d slipped responses; the flood saw %d not answered, %d slipped", dropped, slipped, a.sent-a.answered, a.slipped)
	}
	if fast := delta(`coredns_meridian_fastpath_packets_total{path="answered"}`); fast < a.sent {
		t.Errorf("the fast path handled %d packets, fewer than the A flood's %d: the flood went through the chain", fast, a.sent)
	}
	nxd := delta(`coredns_meridian_rrl_replies_total{action="dropped",class="nxdomain"}`) + delta(`coredns_meridian_rrl_replies_total{action="slipped",class="nxdomain"}`)
	if nxd != nx.sent-nx.answered {
		t.Errorf("server counted %d limited NXDOMAINs; the flood saw %d not answered", nxd, nx.sent-nx.answered)
	}
}

// checkLimited checks a flood's replies against the rate: no more answers
// than the rate earns over the flood (plus the first second's burst and
// one for rounding), at least the burst, and about half of the rest
// truncated (slip 2).
func checkLimited(t *testing.T, what string, r floodResult, rate int) {
	t.Helper()
	most := int(float64(rate)*r.elapsed.Seconds()) + rate + 1
	if r.answered > most || r.answered < rate {
		t.Errorf("%s: %d answered in %v, want from %d (the burst) to %d (the rate)", what, r.answered, r.elapsed, rate, most)
	}
	limited := r.sent - r.answered
	if r.slipped < limited/2-1 || r.slipped > limited/2+1 {
		t.Errorf("%s: %d slipped of %d limited, want half (slip 2)", what, r.slipped, limited)
	}
	if r.other != 0 {
		t.Errorf("%s: %d replies neither answers nor slipped", what, r.other)
	}
}

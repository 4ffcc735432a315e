package meridian

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-dns/meridian/plugin/rrl"
)

// withRRL limits responses to rate a second, at a fixed time.
func withRRL(rate, slip int) func(*Config) {
	return func(c *Config) {
		r := rrl.Defaults(rate)
		r.Slip = slip
		c.RRL = &r
	}
}

// frozen stops m's limiter's clock: no account earns during a test.
func frozen(m *Meridian) *Meridian {
	m.rrl.now = func() time.Time { return time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC) }
	return m
}

// serveUDP serves pkt from from as the chain does over UDP (chainReply),
// and returns what was written: nil when nothing was.
func serveUDP(t *testing.T, s *dnsserver.Server, pkt []byte, from netip.AddrPort, network string) []byte {
	t.Helper()
	msg := new(dns.Msg)
	if err := msg.Unpack(pkt); err != nil {
		t.Fatal(err)
	}
	var remote net.Addr = net.UDPAddrFromAddrPort(from)
	if network == "tcp" {
		remote = net.TCPAddrFromAddrPort(from)
	}
	w := &packetWriter{remote: remote}
	ctx := context.WithValue(context.Background(), dnsserver.Key{}, s)
	ctx = context.WithValue(ctx, dnsserver.LoopKey{}, 0)
	s.ServeDNS(ctx, w, msg)
	if w.writes > 1 {
		t.Fatalf("%d replies", w.writes)
	}
	return w.out
}

// TestLimitFastEqualsChain: a burst of one query from one client, through
// the fast path and through the chain (each with its own limiter, both
// clocks stopped): the same replies, byte for byte, in the same order:
// the rate's worth of answers, then every second one dropped and every
// other one truncated (TC, no records, the ECS scope kept).
func TestLimitFastEqualsChain(t *testing.T) {
	fast, chain := frozen(newTestPlugin(t, withRRL(3, 2))), frozen(newTestPlugin(t, withRRL(3, 2)))
	s, cfg := chainServer(t, fast)
	plan, err := newFastPlan(s, cfg, fast.cfg.Zones)
	if err != nil {
		t.Fatal(err)
	}
	x := fast.newFastAnswerer(plan)
	cs, _ := chainServer(t, chain)
	from := netip.MustParseAddrPort("198.51.100.7:5353")
	q := query("nginx.default.myfed.svc.example.com.", dns.TypeA, "81.0.0.0/24")
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var sent, dropped, slipped int
	for i := range 9 {
		got, ok := x.Answer(nil, pkt, from)
		if !ok {
			t.Fatalf("query %d: the fast path left it to the chain", i)
		}
		want := serveUDP(t, cs, pkt, from, "udp")
		if !bytes.Equal(got, want) {
			t.Fatalf("query %d: fast path %x, chain %x", i, got, want)
		}
		switch r := new(dns.Msg); {
		case len(got) == 0:
			dropped++
		case r.Unpack(got) != nil:
			t.Fatalf("query %d: %x does not parse", i, got)
		case r.Truncated:
			slipped++
			if len(r.Answer)+len(r.Ns) != 0 || r.IsEdns0() == nil || len(r.Question) != 1 {
				t.Errorf("query %d: slipped reply %v, want TC with the question and OPT only", i, r)
			}
		default:
			sent++
		}
	}
	if sent != 3 || dropped != 3 || slipped != 3 {
		t.Errorf("9 queries at rate 3: %d answered, %d dropped, %d slipped; want 3 of each", sent, dropped, slipped)
	}
}

// TestLimitClasses: through the handler, NXDOMAIN is limited per zone
// (random names share one account) and apart from answers, errors per
// client, TCP never, another client network not at all; what is limited
// is counted.
func TestLimitClasses(t *testing.T) {
	m := frozen(newTestPlugin(t, withRRL(2, 0)))
	s, _ := chainServer(t, m)
	flooder := netip.MustParseAddrPort("198.51.100.7:5353")
	other := netip.MustParseAddrPort("198.51.101.7:5353")
	ask := func(name string, qtype uint16, from netip.AddrPort, network string) bool {
		pkt, err := query(name, qtype, "").Pack()
		if err != nil {
			t.Fatal(err)
		}
		return serveUDP(t, s, pkt, from, network) != nil
	}
	count := func(n int, f func(i int) bool) int {
		got := 0
		for i := range n {
			if f(i) {
				got++
			}
		}
		return got
	}
	nxBefore := testutil.ToFloat64(rrlReplies.WithLabelValues("nxdomain", "dropped"))
	if got := count(10, func(i int) bool {
		return ask(string(rune('a'+i))+".nothing.example.com.", dns.TypeA, flooder, "udp")
	}); got != 2 {
		t.Errorf("10 NXDOMAINs for 10 names: %d sent, want 2 (one account per zone)", got)
	}
	if d := testutil.ToFloat64(rrlReplies.WithLabelValues("nxdomain", "dropped")) - nxBefore; d != 8 {
		t.Errorf("nxdomain dropped counted %v, want 8", d)
	}
	if got := count(5, func(int) bool { return ask("nginx.default.myfed.svc.example.com.", dns.TypeA, flooder, "udp") }); got != 2 {
		t.Errorf("answers after the NXDOMAINs: %d of 5 sent, want 2 (their own account)", got)
	}
	if got := count(5, func(int) bool { return ask("nginx.default.myfed.svc.example.com.", dns.TypeA, flooder, "tcp") }); got != 5 {
		t.Errorf("over TCP: %d of 5 sent, want all", got)
	}
	if got := count(5, func(int) bool { return ask("nginx.default.myfed.svc.example.com.", dns.TypeA, other, "udp") }); got != 2 {
		t.Errorf("another /24: %d of 5 sent, want its own 2", got)
	}
	if got := count(5, func(i int) bool {
		return ask("nginx.default.myfed.svc.example.com.", []uint16{dns.TypeAXFR, dns.TypeIXFR}[i%2], flooder, "udp")
	}); got != 2 {
		t.Errorf("errors (REFUSED): %d of 5 sent, want 2", got)
	}
}

//go:build linux

package fastpath

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testHandler answers fast.example.com. A from the wire and leaves every
// other packet to a chain that answers REFUSED with miekg/dns.
type testHandler struct{ chained atomic.Int64 }

func (h *testHandler) Answer(out, pkt []byte, _ netip.AddrPort) ([]byte, bool) {
	var q Query
	var name [MaxName]byte
	if !Parse(pkt, &q, name[:]) || string(q.Name) != "fast.example.com." || q.Qtype != dns.TypeA {
		return nil, false
	}
	return AppendReply(out, pkt, &q, &Records{Rtype: dns.TypeA, TTL: 30, Rdata: [][]byte{{192, 0, 2, 1}}}), true
}

func (h *testHandler) Chain(pkt []byte, _ netip.AddrPort, send func([]byte) error) {
	h.chained.Add(1)
	m := new(dns.Msg)
	if m.Unpack(pkt) != nil {
		return
	}
	r := new(dns.Msg)
	r.SetRcode(m, dns.RcodeRefused)
	b, _ := r.Pack()
	send(b)
}

// TestServe answers over real sockets: the fast answers and the chain's,
// each client getting its own reply, until the context ends.
func TestServe(t *testing.T) {
	g, err := ListenGroup("127.0.0.1:0", 2, true)
	if err != nil {
		t.Fatal(err)
	}
	addr := g.Conns[0].LocalAddr().String()
	h := &testHandler{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, h, 16) }()

	c := &dns.Client{Timeout: 2 * time.Second}
	for i := range 200 {
		name, want := "fast.example.com.", dns.RcodeSuccess
		if i%4 == 3 {
			name, want = "slow.example.com.", dns.RcodeRefused
		}
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if r.Id != m.Id || r.Rcode != want || (want == dns.RcodeSuccess && (len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1")) {
			t.Fatalf("query %d for %s: %v", i, name, r)
		}
	}
	if n := h.chained.Load(); n != 50 {
		t.Errorf("%d packets went to the chain, want 50", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
}

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
// other packet to a miekg/dns server reading a Relay, which answers
// REFUSED.
type testHandler struct {
	relay   *Relay
	chained *atomic.Int64
}

func (h *testHandler) Answer(out, pkt []byte, _ netip.AddrPort) ([]byte, bool) {
	var q Query
	var name [MaxName]byte
	if !Parse(pkt, &q, name[:]) || string(q.Name) != "fast.example.com." || q.Qtype != dns.TypeA {
		return nil, false
	}
	return AppendReply(out, pkt, &q, &Records{Rtype: dns.TypeA, TTL: 30, Rdata: [][]byte{{192, 0, 2, 1}}}), true
}

func (h *testHandler) Chain(pkt []byte, from netip.AddrPort) {
	h.chained.Add(1)
	h.relay.Push(pkt, from)
}

// serveRelay serves r with miekg/dns, answering REFUSED, and returns the
// server to shut down.
func serveRelay(t *testing.T, r *Relay) *dns.Server {
	t.Helper()
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: r, Net: "udp", NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, m *dns.Msg) {
			reply := new(dns.Msg)
			reply.SetRcode(m, dns.RcodeRefused)
			w.WriteMsg(reply)
		})}
	go srv.ActivateAndServe()
	<-started
	return srv
}

// TestServe answers over real sockets: the fast answers and the chain's,
// each client getting its own reply, until the context ends.
func TestServe(t *testing.T) {
	g, err := ListenGroup("127.0.0.1:0", 2, true)
	if err != nil {
		t.Fatal(err)
	}
	addr := g.Conns[0].LocalAddr().String()
	relay := NewRelay(g.Conns[0], 64)
	srv := serveRelay(t, relay)
	var chained atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- g.Serve(ctx, func() Handler { return &testHandler{relay: relay, chained: &chained} }, 16)
	}()

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
	if n := chained.Load(); n != 50 {
		t.Errorf("%d packets went to the chain, want 50", n)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.ShutdownContext(sctx); err != nil {
		t.Errorf("the relay's server did not shut down: %v", err)
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

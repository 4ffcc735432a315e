package upstream

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkCacheHit is Exchange answered from the cache, for a request
// with EDNS and a client subnet (the resolver role's usual query).
func BenchmarkCacheHit(b *testing.B) {
	s := startServer(b, serve(scoped(0, answer(answerA))))
	u := newUpstream(b, Config{CacheSize: 1024}, s.addr)
	req := withECS(query("www.example.org.", dns.TypeA), "10.1.2.0", 24, 0)
	ctx := context.Background()
	if _, err := u.Exchange(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Exchange(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	if s.calls() != 1 {
		b.Fatalf("upstream saw %d queries, want 1", s.calls())
	}
}

// BenchmarkExchangeUDP is an uncached exchange with a server on loopback.
func BenchmarkExchangeUDP(b *testing.B) {
	s := startServer(b, reply(dns.RcodeSuccess, answerA))
	u := newUpstream(b, Config{}, s.addr)
	req := query("www.example.org.", dns.TypeA)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Exchange(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

package meridian

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/health"
)

// FuzzServeDNS feeds wire-format queries to the handler: whatever decodes
// must get exactly one reply that packs, and nothing may panic. `go test`
// runs the seeds; `go test -fuzz FuzzServeDNS ./plugin/` explores.
func FuzzServeDNS(f *testing.F) {
	seeds := []*dns.Msg{
		query(global, dns.TypeA, "27.0.0.0/24"),
		query("_http._tcp."+usc1b, dns.TypeSRV, "2001:200::/48"),
		query("NGINX.default.myfed.svc.asia-east1-a.asia-east1.example.com.", dns.TypeANY, ""),
		query("example.com.", dns.TypeNS, "0.0.0.0/0"),
		query("a.b.c.d.e.f.g.h.i.j.example.com.", dns.TypeTXT, ""),
	}
	fuzzServe(f, newTestPlugin(f), seeds)
}

// fuzzServe adds seeds to the corpus and fuzzes m.ServeDNS with
// wire-format queries: each that decodes gets one reply that packs.
func fuzzServe(f *testing.F, m *Meridian, seeds []*dns.Msg) {
	for _, s := range seeds {
		b, err := s.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := new(dns.Msg)
		if req.Unpack(wire) != nil {
			return // the server answers FORMERR before any plugin runs
		}
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		m.ServeDNS(context.Background(), rec, req)
		if rec.Msg == nil {
			t.Fatal("no reply")
		}
		if _, err := rec.Msg.Pack(); err != nil {
			t.Fatalf("reply does not pack: %v\n%v", err, rec.Msg)
		}
	})
}

// FuzzResolver is FuzzServeDNS for the resolver role, with the test
// authority as its upstream on 127.0.0.1: local answers, chains, forwarded
// questions and the kube-form zone.
func FuzzResolver(f *testing.F) {
	seeds := []*dns.Msg{
		query(global, dns.TypeA, "27.0.0.0/24"),
		query(kubeGlobal, dns.TypeAAAA, ""),
		query("_http._tcp."+kubeGlobal, dns.TypeSRV, ""),
		query("web.shop.myfed.svc.example.com.", dns.TypeA, "2001:200::/48"),
		query("default.myfed.svc.cluster.local.", dns.TypeCNAME, ""),
		query("example.com.", dns.TypeSOA, "0.0.0.0/0"),
	}
	m := newTestResolver(f, []string{serveAuthority(f)})
	setLocal(m, 0, health.Up) // nginx remote, echo local
	fuzzServe(f, m, seeds)
}

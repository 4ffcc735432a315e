package meridian

import (
	"bytes"
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

// FuzzFastPath feeds packets to the fast path's answerer and, whenever it
// answers, the same packet (draws replayed) through a CoreDNS server's
// chain: the bytes must be equal. Every packet it leaves goes to the
// chain, which FuzzServeDNS covers. `go test` runs the seeds; `go test
// -fuzz FuzzFastPath ./plugin/` explores.
func FuzzFastPath(f *testing.F) {
	m := newTestPlugin(f)
	s, cfg := chainServer(f, m)
	plan, err := newFastPlan(s, cfg, m.cfg.Zones)
	if err != nil {
		f.Fatal(err)
	}
	x := m.newFastAnswerer(plan)
	for _, q := range []*dns.Msg{
		query(global, dns.TypeA, "27.0.0.0/24"),
		query(global, dns.TypeAAAA, "2001:200::/48"),
		query("web.shop.myfed.svc.example.com.", dns.TypeA, "81.0.0.0/24"),
		query("NGINX.Default.myfed.svc.example.com.", dns.TypeA, ""),
		query(global, dns.TypeA, "0.0.0.0/0"),
	} {
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	out := make([]byte, 0, 4096)
	f.Fuzz(func(t *testing.T, pkt []byte, v6 bool) {
		from := fastSources[0]
		if v6 {
			from = fastSources[2]
		}
		m.auth.SetRandom(func() uint64 { return 7 })
		m.auth.SetSeq(7)
		reply, ok := x.Answer(out[:0], pkt, from)
		if !ok {
			return
		}
		m.auth.SetSeq(7)
		want, err := chainReply(s, fastCase{pkt, from})
		if err != nil {
			t.Fatalf("packet %x: the fast path answered what the chain does not: %v", pkt, err)
		}
		if !bytes.Equal(reply, want) {
			t.Fatalf("packet %x:\nfast path %x\nchain     %x", pkt, reply, want)
		}
	})
}

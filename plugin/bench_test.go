package meridian

import (
	"context"
	"fmt"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
)

// discard is a ResponseWriter that drops replies, so the benchmark measures
// ServeDNS and not a recorder.
type discard struct{ test.ResponseWriter }

func (*discard) WriteMsg(*dns.Msg) error { return nil }

// BenchmarkServeDNS answers a global name for a client subnet whose
// location is already cached: the common path of a busy server.
func BenchmarkServeDNS(b *testing.B) {
	for _, bc := range []struct {
		name, qname, subnet string
		qtype               uint16
	}{
		{"global-ecs", global, "27.0.0.0/24", dns.TypeA},
		{"global-no-ecs", global, "", dns.TypeA},
		{"region-ecs", usc1, "27.0.0.0/24", dns.TypeA},
		{"zone-fallback", usc1b, "", dns.TypeA},
		{"nxdomain", "nope.default.myfed.svc.example.com.", "", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchServe(b, newTestPlugin(b), query(bc.qname, bc.qtype, bc.subnet))
		})
	}
}

// benchServe answers msg once (warming the location cache, filling the
// upstream cache), then measures answering it again.
func benchServe(b *testing.B, m *Meridian, msg *dns.Msg) {
	w := &discard{}
	ctx := context.Background()
	m.ServeDNS(ctx, w, msg)
	b.ReportAllocs()
	for b.Loop() {
		m.ServeDNS(ctx, w, msg)
	}
}

// BenchmarkResolver answers as the resolver role: a local answer (cluster
// IP, kube-dns form, CNAME mode) and a remote one served from the upstream
// cache (no socket once the cache holds the chain).
func BenchmarkResolver(b *testing.B) {
	up := serveAuthority(b, "127.0.0.1:0")
	for _, bc := range []struct {
		name, qname string
		ready       int
		cname       bool
	}{
		{"local", global, 3, false},
		{"local-kube-form", kubeGlobal, 3, false},
		{"local-cname", global, 3, true},
		{"remote-cached", global, 0, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newTestResolver(b, []string{up}, func(c *Config) { c.Resolver.LocalCNAME = bc.cname })
			setLocal(m, bc.ready, health.Up)
			benchServe(b, m, query(bc.qname, dns.TypeA, ""))
		})
	}
}

// BenchmarkResolverRebuild decides 10,000 services of the local cluster, as
// the resolver does after every snapshot.
func BenchmarkResolverRebuild(b *testing.B) {
	m := newTestResolver(b, []string{"127.0.0.1:9"})
	objs := localObjects(3)
	for i := range 10000 {
		svc := objs.Services[0]
		svc.Name = fmt.Sprintf("svc-%d", i)
		objs.Services = append(objs.Services, svc)
		objs.Endpoints = append(objs.Endpoints, source.EndpointSlice{Namespace: "default", Name: svc.Name + "-1", Service: svc.Name, Ready: 1, Total: 1})
	}
	m.store.Replace("us-central1-b", objs)
	snap := m.store.Rebuild()
	b.ReportAllocs()
	for b.Loop() {
		m.res.rebuild(snap)
	}
}

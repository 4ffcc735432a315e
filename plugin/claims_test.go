package meridian

import (
	"context"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-dns/meridian/plugin/source"
)

// The tests of this file hold docs/dns-behaviour.md, docs/health.md and
// the plugin README to claims no other test checked.

// TestServeDNSNextPlugin: names outside the zones go to the next plugin
// (README, docs/dns-behaviour.md "Protocol"); names inside never do.
func TestServeDNSNextPlugin(t *testing.T) {
	tests := []struct {
		name  string
		qname string
		next  bool
	}{
		{"outside the zones", "example.org.", true},
		{"a zone's parent", "com.", true},
		{"a name that ends like the zone", "notexample.com.", true},
		{"the root", ".", true},
		{"inside", global, false},
		{"inside, not existing", "nope.example.com.", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestPlugin(t)
			called := false
			m.Next = test.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
				called = true
				return dns.RcodeBadCookie, nil // a code no path of ours returns
			})
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			rcode, err := m.ServeDNS(context.Background(), rec, query(tc.qname, dns.TypeA, ""))
			if err != nil {
				t.Fatalf("ServeDNS: %v", err)
			}
			if called != tc.next || (rcode == dns.RcodeBadCookie) != tc.next {
				t.Errorf("next plugin called %v (ServeDNS returned %d), want %v", called, rcode, tc.next)
			}
			if !tc.next && (rec.Msg == nil || !rec.Msg.Authoritative) {
				t.Errorf("in-zone reply %v, want an authoritative one", rec.Msg)
			}
		})
	}
}

// TestServeDNSUnnamedPort: SRV names use the Service's named ports only;
// an unnamed port has no SRV record (docs/dns-behaviour.md).
func TestServeDNSUnnamedPort(t *testing.T) {
	const mixed, unnamed = "mixed.default.myfed.svc.example.com.", "raw.default.myfed.svc.example.com."
	m := newTestPlugin(t)
	objs := testObjects(testClusters[3]) // asia-east1-a
	lb := []netip.Addr{netip.MustParseAddr("203.0.113.50")}
	objs.Services = append(objs.Services,
		&source.Service{Namespace: "default", Name: "mixed", Addresses: lb,
			Ports: []source.Port{{Protocol: "tcp", Port: 8080}, {Name: "http", Protocol: "tcp", Port: 80}}},
		&source.Service{Namespace: "default", Name: "raw", Addresses: lb, Ports: []source.Port{{Protocol: "tcp", Port: 9000}}})
	for _, s := range []string{"mixed", "raw"} {
		objs.Endpoints = append(objs.Endpoints, &source.EndpointSlice{Namespace: "default", Name: s + "-1", Service: s, Ready: 1, Total: 1})
	}
	m.pipe.Sink().Update(testClusters[3].name, source.Fixed(objs))
	m.pipe.Rebuild()
	tests := []serveCase{
		{name: "the named port", msg: query("_http._tcp."+mixed, dns.TypeSRV, ""),
			answer: []string{"_http._tcp." + mixed + " 30 IN SRV 0 100 80 " + mixed}, extra: []string{mixed + " 30 IN A 203.0.113.50"}},
		{name: "the unnamed port by number", msg: query("_8080._tcp."+mixed, dns.TypeSRV, ""), rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "only unnamed ports: the service answers", msg: query(unnamed, dns.TypeA, ""), answer: []string{unnamed + " 30 IN A 203.0.113.50"}},
		{name: "only unnamed ports: no SRV by number", msg: query("_9000._tcp."+unnamed, dns.TypeSRV, ""), rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "only unnamed ports: nothing below _tcp", msg: query("_tcp."+unnamed, dns.TypeSRV, ""), rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "only unnamed ports: no SRV at the service", msg: query(unnamed, dns.TypeSRV, ""), ns: []string{soa}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.scope = -1
			checkServe(t, m, tc)
		})
	}
}

// TestServeDNSCountsSpillsAndFailOpens: spilled and fail-open answers are
// counted in coredns_meridian_spills_total{cluster} (the cluster the answer
// went to) and coredns_meridian_fail_opens_total{policy} (README
// "Metrics", docs/health.md), and answers that do neither count in
// neither.
func TestServeDNSCountsSpillsAndFailOpens(t *testing.T) {
	degradeAsia := func(m *Meridian) { // asia-east1-a: usable, 2 of 3 ready
		objs := testObjects(testClusters[3])
		objs.Endpoints[0].Ready = 2
		m.pipe.Sink().Update(testClusters[3].name, source.Fixed(objs))
		m.pipe.Rebuild()
	}
	tests := []struct {
		name            string
		mod             func(*Config)
		prep            func(*Meridian)
		answer          string
		spills, failOps float64 // counted per query: spills to europe-west1-b, fail-opens of closest
	}{
		{"closest, whole", func(*Config) {}, nil, "203.0.113.11", 0, 0},
		{"spill 100%: to the next-closest", func(c *Config) { c.Build.Defaults.Spill = 1 }, degradeAsia, "198.51.100.11", 1, 0},
		{"spill 0: degraded, not spilled", func(*Config) {}, degradeAsia, "203.0.113.11", 0, 0},
		{"spill 100%, closest whole: not spilled", func(c *Config) { c.Build.Defaults.Spill = 1 }, nil, "203.0.113.11", 0, 0},
		{"nothing usable: fail open", func(c *Config) { c.Build.Defaults.MinReady = 4 }, nil, "203.0.113.11", 0, 1},
	}
	const queries = 3
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestPlugin(t, tc.mod)
			if tc.prep != nil {
				tc.prep(m)
			}
			spills, failOpens := spillsTotal.WithLabelValues("europe-west1-b"), failOpensTotal.WithLabelValues("closest")
			spills0, failOpens0 := testutil.ToFloat64(spills), testutil.ToFloat64(failOpens)
			for range queries {
				rec := dnstest.NewRecorder(&test.ResponseWriter{})
				m.ServeDNS(context.Background(), rec, query(global, dns.TypeA, "27.0.0.0/24"))
				if rec.Msg == nil || len(rec.Msg.Answer) == 0 {
					t.Fatalf("reply %v, want an answer", rec.Msg)
				}
				if a, ok := rec.Msg.Answer[0].(*dns.A); !ok || a.A.String() != tc.answer {
					t.Fatalf("answer %v, want %s first", rec.Msg.Answer, tc.answer)
				}
			}
			if got := testutil.ToFloat64(spills) - spills0; got != tc.spills*queries {
				t.Errorf("spills_total{cluster=europe-west1-b} grew by %v, want %v", got, tc.spills*queries)
			}
			if got := testutil.ToFloat64(failOpens) - failOpens0; got != tc.failOps*queries {
				t.Errorf("fail_opens_total{policy=closest} grew by %v, want %v", got, tc.failOps*queries)
			}
		})
	}
}

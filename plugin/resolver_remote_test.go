package meridian

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
)

// TestResolverWiderName: when the authority answers NXDOMAIN for the
// resolver's zone name (a topology it does not know, say the Nodes' labels
// differ from what it was told), the resolver tries the region name, then
// the global name, each once (docs/resolver.md, "The remote chain").
func TestResolverWiderName(t *testing.T) {
	tests := []struct {
		name, region, zone string
		answer             []string
		asked              int64 // queries to the authority
	}{
		{"known zone: one question", "us-central1", "us-central1-b",
			[]string{global + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"}, 1},
		{"unknown zone: the region name", "us-central1", "us-central1-z",
			[]string{global + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"}, 2},
		// The authority sees 127.0.0.1, which GeoIP cannot place: its
		// default region, europe-west1.
		{"unknown region: the global name, no CNAME to itself", "mars-1", "mars-1-a",
			[]string{global + " 5 IN A 198.51.100.11"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up, asked := serveCountedAuthority(t)
			m := newTestResolver(t, []string{up})
			objs := localObjects(0) // nginx unhealthy here: remote
			objs.Nodes[0].Region, objs.Nodes[0].Zone = tc.region, tc.zone
			m.pipe.Sink().Update("us-central1-b", source.Fixed(objs))
			m.pipe.Sink().SetState("us-central1-b", health.Up)
			m.pipe.Rebuild()
			before := asked.Load()
			resp := ask(t, m, query(global, dns.TypeA, ""))
			if resp.Rcode != dns.RcodeSuccess {
				t.Errorf("rcode %s, want NOERROR", dns.RcodeToString[resp.Rcode])
			}
			checkSection(t, "answer", resp.Answer, tc.answer)
			if n := asked.Load() - before; n != tc.asked {
				t.Errorf("the authority was asked %d times, want %d", n, tc.asked)
			}
		})
	}
}

// TestResolverKubeNegativeSOA: the kube-form zone's NODATA and NXDOMAIN
// carry its SOA, with local_ttl as the record's TTL and MINIMUM.
func TestResolverKubeNegativeSOA(t *testing.T) {
	const zone = "myfed.svc.cluster.local."
	want := wantSOA{owner: zone, mname: "ns.dns.cluster.local.", rname: "hostmaster.cluster.local.", ttl: 3}
	tests := []struct {
		name  string
		qname string
		rcode int
	}{
		{"namespace: NODATA", "default." + zone, dns.RcodeSuccess},
		{"apex: NODATA", zone, dns.RcodeSuccess},
		{"junk: NXDOMAIN", "a.b.c.d." + zone, dns.RcodeNameError},
	}
	m := newTestResolver(t, []string{"127.0.0.1:9"}, func(c *Config) { c.Resolver.LocalTTL = 3 })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ask(t, m, query(tc.qname, dns.TypeA, ""))
			if resp.Rcode != tc.rcode || len(resp.Answer) != 0 {
				t.Fatalf("reply %v, want rcode %s and no answer", resp, dns.RcodeToString[tc.rcode])
			}
			checkSOA(t, resp.Ns, want)
		})
	}
}

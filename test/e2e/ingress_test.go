package e2e

import (
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

const (
	shop = "shop.example.com."
	api  = "api.example.com."
)

// TestDemoIngress replays seed 3 (Federated Ingress) in DNS terms on the
// real binary and the demo: an Asian and a US client get their nearest
// cluster's ingress address (one of the region's three, by rendezvous
// hash of the client's network: the prefixes below) for shop.example.com, in both families; the
// TXT record says which cluster; a tenant's name is answered by the
// wildcard *.shop.example.com; api.example.com comes from an HTTPRoute on
// a Gateway in three clusters. Then the Asian shards' cart backend becomes
// unready and the Asian client moves on, with no restart, while the
// wildcard (storefront alone) stays; the resolver of us-central1-a answers
// with its own cluster's ingress.
func TestDemoIngress(t *testing.T) {
	s := startDemo(t)
	for _, tc := range []struct {
		name, qname, subnet string
		qtype               uint16
		want                string // the one address's prefix
	}{
		{"asian client, shop", shop, taipei, dns.TypeA, "203.0.113.5"},
		{"us client, shop", shop, chi, dns.TypeA, "192.0.2.5"},
		{"asian client, shop, IPv6", shop, taipei, dns.TypeAAAA, "2001:db8:3::5"},
		{"us client over IPv6, shop", shop, "2600::/48", dns.TypeAAAA, "2001:db8:1::5"},
		{"a tenant, through the wildcard", "eu.shop.example.com.", "81.0.0.0/24", dns.TypeA, "198.51.100.5"},
		// One cluster per region runs the route.
		{"api, an HTTPRoute on a Gateway", api, taipei, dns.TypeA, "203.0.113.61"},
		{"api from europe", api, "81.0.0.0/24", dns.TypeAAAA, "2001:db8:2::61"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Ask(t, "udp", tc.qname, tc.qtype, tc.subnet)
			if got := e2eutil.Addrs(r); r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("%s AA %v: %v, want one address %s*", dns.RcodeToString[r.Rcode], r.Authoritative, got, tc.want)
			}
			for _, rr := range r.Answer {
				if rr.Header().Name != tc.qname {
					t.Errorf("record %v is not at the question's name", rr)
				}
			}
		})
	}
	t.Run("TXT says the cluster", func(t *testing.T) {
		r := s.Ask(t, "udp", shop, dns.TypeTXT, taipei)
		if len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), `"cluster=asia-east1-`) {
			t.Errorf("TXT %v, want an asia-east1 cluster's", r.Answer)
		}
	})
	t.Run("deeper than the wildcard", func(t *testing.T) {
		if r := s.Ask(t, "udp", "a.eu.shop.example.com.", dns.TypeA, ""); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
			t.Errorf("%v, want NXDOMAIN with the SOA", r)
		}
	})
	t.Run("dig and kdig", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(s.DNS)
		for _, tool := range []string{"dig", "kdig"} {
			path, err := exec.LookPath(tool)
			if err != nil {
				e2eutil.RequireRealParts(t, tool+" not installed (make tools installs it)")
			}
			for _, proto := range []string{"+notcp", "+tcp"} {
				out, err := exec.Command(path, "@"+host, "-p", port, proto, "+short", "+subnet="+chi, shop, "AAAA").CombinedOutput()
				if got := strings.TrimSpace(string(out)); err != nil || !strings.HasPrefix(got, "2001:db8:1::5") || strings.Contains(got, "\n") {
					t.Errorf("%s %s: %q %v, want one us-central1 ingress address", tool, proto, got, err)
				}
			}
		}
	})

	t.Run("the asian backends become unready", func(t *testing.T) {
		for _, c := range asiaClusters {
			s.editDemo(t, c, "name: cart-demo", "ready: true", "ready: false")
		}
		took := e2eutil.Eventually(t, 10*time.Second, "shop moves on", func() bool {
			got := e2eutil.Addrs(s.Ask(t, "udp", shop, dns.TypeA, taipei))
			return len(got) == 1 && !strings.HasPrefix(got[0], "203.0.113.")
		})
		t.Logf("the Asian client moved on after %v", took)
		if got := e2eutil.Addrs(s.Ask(t, "udp", "tenant.shop.example.com.", dns.TypeA, taipei)); len(got) != 1 || !strings.HasPrefix(got[0], "203.0.113.5") {
			t.Errorf("wildcard: %v, want an asia-east1 ingress: its backend storefront is still ready", got)
		}
		if m := s.Scrape(t); !strings.Contains(m, `coredns_meridian_host_shard_healthy{cluster="asia-east1-a",host="shop.example.com."} 0`) {
			t.Errorf("the host shard's gauge does not show it down:\n%s", grepLines(m, "host_shard_healthy"))
		}
	})

	t.Run("resolver", func(t *testing.T) {
		for _, tc := range []struct {
			qname string
			qtype uint16
			want  string
		}{{shop, dns.TypeA, "192.0.2.51"}, {shop, dns.TypeAAAA, "2001:db8:1::51"}, {api, dns.TypeA, "192.0.2.61"}} {
			if got := e2eutil.Addrs(askAt(t, s.resolver, tc.qname, tc.qtype)); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("%s %s: %v, want the local ingress %s", tc.qname, dns.TypeToString[tc.qtype], got, tc.want)
			}
		}
		s.editDemo(t, "us-central1-a", "name: cart-demo", "ready: true", "ready: false")
		took := e2eutil.Eventually(t, 10*time.Second, "resolver goes remote", func() bool {
			got := e2eutil.Addrs(askAt(t, s.resolver, shop, dns.TypeA))
			return len(got) == 1 && got[0] != "192.0.2.51"
		})
		t.Logf("local host shard unready: the resolver answered the authority's choice after %v", took)
	})
}

package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestWidenedScopeThroughUnbound runs the demo (widened scopes, the
// default) behind a real Unbound (subnetcache on): the widened scope of
// one client's answer is what Unbound caches, so a second client in
// another database network inside that scope is answered from Unbound's
// cache, without a query reaching the authority, and with the records the
// authority gives that client directly. The same second client under
// database scopes (`ecs_scope network`) makes Unbound ask again. The first
// query comes right after the server is ready: readiness waits for the
// scope table.
func TestWidenedScopeThroughUnbound(t *testing.T) {
	if e2eutil.UnboundBinary() == "" {
		e2eutil.RequireRealParts(t, "unbound is not installed (hack/install-tools.sh installs it)")
	}
	// 24.0.129.0/24 and 24.0.128.0/24 are Chicago and New York in the test
	// database: different networks, the same order of the demo's regions.
	const first, second = "24.0.129.0/24", "24.0.128.0/24"
	for _, widened := range []bool{true, false} {
		t.Run(fmt.Sprintf("widened=%v", widened), func(t *testing.T) {
			var s *server
			if widened {
				s = startDemo(t)
			} else {
				s = startDemoWith(t, "        ttl 30\n", "        ttl 30\n        ecs_scope network\n")
			}
			direct := s.Ask(t, "udp", nginx, dns.TypeA, second)
			scope := e2eutil.Subnet(s.Ask(t, "udp", nginx, dns.TypeA, first)).SourceScope
			u := e2eutil.StartUnbound(t, e2eutil.UnboundConfig{Zone: "example.com.", Authority: s.DNS})
			if _, err := u.Exchange(nginx, dns.TypeA, first); err != nil {
				t.Fatal(err)
			}
			asked := metricValue(s.Scrape(t), `coredns_dns_requests_total{family="1",proto="udp",server="dns://`+s.DNS+`",type="A",view="",zone="example.com."}`)
			r, err := u.Exchange(nginx, dns.TypeA, second)
			if err != nil {
				t.Fatal(err)
			}
			after := metricValue(s.Scrape(t), `coredns_dns_requests_total{family="1",proto="udp",server="dns://`+s.DNS+`",type="A",view="",zone="example.com."}`)
			got, want := e2eutil.Addrs(r), e2eutil.Addrs(direct)
			if !slices.Equal(got, want) {
				t.Errorf("through Unbound %s got %v, the authority gives it %v", second, got, want)
			}
			t.Logf("first client's scope /%d; the authority was asked %v more A queries for the second client", scope, after-asked)
			switch {
			case widened && (scope > 16 || after != asked):
				t.Errorf("widened: scope /%d and %v queries reached the authority for a client inside it; want a scope of /16 or wider answered from Unbound's cache", scope, after-asked)
			case !widened && after == asked:
				t.Errorf("database scopes (/%d): the second client was answered from the cache; want a query to the authority", scope)
			}
		})
	}
}

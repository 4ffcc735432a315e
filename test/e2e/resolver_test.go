package e2e

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

const (
	kubeNginx = "nginx.default.myfederation.svc.cluster.local."
	zoneNginx = "nginx.default.myfederation.svc.us-central1-a.us-central1.example.com."
)

// askAt sends one query over UDP to addr.
func askAt(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s at %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

// goResolver is Go's own stub resolver (PreferGo) sending every query to
// addr, as a Go program in a pod would through its resolv.conf.
func goResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// TestDemoResolver drives the demo's local-first resolver (cluster
// us-central1-a, the second block of Corefile.example) over real sockets:
// the local cluster IP while nginx is ready there, the CNAME chain to the
// closest healthy shard in the region when it is not, and local again.
func TestDemoResolver(t *testing.T) {
	s := startDemo(t)
	res := goResolver(s.resolver)
	ctx := context.Background()

	local := func() bool {
		r := askAt(t, s.resolver, nginx, dns.TypeA)
		return r.Authoritative && slices.Equal(e2eutil.Addrs(r), []string{"10.96.0.10"})
	}
	e2eutil.Eventually(t, 10*time.Second, "local answer", local)
	t.Run("local", func(t *testing.T) {
		r := askAt(t, s.resolver, nginx, dns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 5 {
			t.Errorf("local answer %v, want one A with TTL 5", r.Answer)
		}
		if got := e2eutil.Addrs(askAt(t, s.resolver, kubeNginx, dns.TypeA)); !slices.Equal(got, []string{"10.96.0.10"}) {
			t.Errorf("kube form: %v", got)
		}
		if got := e2eutil.Addrs(askAt(t, s.resolver, "echo.default.myfederation.svc.example.com.", dns.TypeAAAA)); !slices.Equal(got, []string{"fd00:96::20"}) {
			t.Errorf("echo AAAA: %v", got)
		}
		addrs, err := res.LookupHost(ctx, strings.TrimSuffix(nginx, "."))
		if err != nil || !slices.Equal(addrs, []string{"10.96.0.10"}) {
			t.Errorf("Go resolver: %v %v, want the cluster IP", addrs, err)
		}
		if r := askAt(t, s.resolver, "example.org.", dns.TypeA); r.Rcode != dns.RcodeRefused {
			t.Errorf("outside the zones: %s, want REFUSED", dns.RcodeToString[r.Rcode])
		}
	})

	s.editDemo(t, "us-central1-a", "name: nginx-demo", "ready: true", "ready: false")
	took := e2eutil.Eventually(t, 10*time.Second, "remote answer", func() bool { return !local() })
	t.Logf("local shard unready: remote after %v", took)
	t.Run("remote", func(t *testing.T) {
		var r *dns.Msg
		// The region name answers every usable shard in the region: the
		// nginx shards of us-central1-b and us-central1-c.
		region := []string{"192.0.2.12", "192.0.2.13"}
		e2eutil.Eventually(t, 10*time.Second, "chain to us-central1-b and -c", func() bool {
			r = askAt(t, s.resolver, nginx, dns.TypeA)
			return slices.Equal(slices.Sorted(slices.Values(e2eutil.Addrs(r))), region)
		})
		if len(r.Answer) != 4 || r.Answer[0].(*dns.CNAME).Target != zoneNginx || r.Authoritative || !r.RecursionAvailable {
			t.Fatalf("chain %v (AA %v, RA %v), want global -> zone -> region -> 2 A, RA and not AA", r.Answer, r.Authoritative, r.RecursionAvailable)
		}
		if c := r.Answer[1].(*dns.CNAME); c.Hdr.Name != zoneNginx || c.Target != "nginx.default.myfederation.svc.us-central1.example.com." {
			t.Errorf("second link %v", c)
		}
		addrs, err := res.LookupHost(ctx, strings.TrimSuffix(kubeNginx, "."))
		if slices.Sort(addrs); err != nil || !slices.Equal(addrs, region) {
			t.Errorf("Go resolver, kube form: %v %v, want %v", addrs, err, region)
		}
		// nginx has no IPv6 anywhere. The zone name, fallen back, is a
		// CNAME for AAAA as for A (a name is a CNAME for every type or for
		// none); the region name holds records, none of them AAAA: the
		// chain ends in NODATA with the SOA.
		r = askAt(t, s.resolver, nginx, dns.TypeAAAA)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || r.Answer[0].(*dns.CNAME).Target != zoneNginx ||
			r.Answer[1].(*dns.CNAME).Target != "nginx.default.myfederation.svc.us-central1.example.com." || len(r.Ns) != 1 {
			t.Errorf("AAAA: %v, want global -> zone -> region CNAMEs and NODATA with the SOA", r)
		}
	})

	s.editDemo(t, "us-central1-a", "name: nginx-demo", "ready: false", "ready: true")
	took = e2eutil.Eventually(t, 10*time.Second, "local again", local)
	t.Logf("local shard ready again: local after %v", took)

	m := s.Scrape(t)
	for _, series := range []string{
		`coredns_meridian_resolver_answers_total{answer="local",namespace="default",service="nginx"}`,
		`coredns_meridian_resolver_answers_total{answer="remote",namespace="default",service="nginx"}`,
		`coredns_meridian_upstream_requests_total{result="success",server="127.0.0.1:`,
		`coredns_meridian_resolver_local_shard_healthy{namespace="default",service="nginx"} 1`,
	} {
		if !strings.Contains(m, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
}

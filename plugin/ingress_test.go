package meridian

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/source"
)

// hostCluster is one member cluster of the host tests' federation.
type hostCluster struct {
	name, region, zone string
	addrs              []string // the shop Ingress's load-balancer addresses
	ready              int      // ready endpoints of each shop backend
	extra              []*source.Ingress
}

var hostClusters = []hostCluster{
	{name: "us-central1-a", region: "us-central1", zone: "us-central1-a", addrs: []string{"192.0.2.101"}, ready: 2},
	{name: "europe-west1-b", region: "europe-west1", zone: "europe-west1-b", addrs: []string{"198.51.100.101", "2001:db8:2::101"}, ready: 2,
		extra: []*source.Ingress{
			hostIngress("apps", "router", 1, nil, []string{"apps-eu.lb.example.net."}, "*.apps.example.com."),
			hostIngress("deep", "x", 1, []string{"198.51.100.102"}, nil, "a.b.deep.example.com."),
		}},
	{name: "asia-east1-a", region: "asia-east1", zone: "asia-east1-a", addrs: []string{"203.0.113.101", "2001:db8:3::101"}, ready: 2,
		extra: []*source.Ingress{
			hostIngress("apps", "special", 1, []string{"203.0.113.102"}, nil, "special.apps.example.com."),
			// A later claim on shop's host, from another tenant.
			hostIngress("evil", "shop", 9, []string{"203.0.113.66"}, nil, "shop.example.com."),
			// A host among the federation's names.
			hostIngress("evil", "fed", 9, []string{"203.0.113.67"}, nil, "x.myfed.svc.example.com."),
		}},
}

func hostIngress(ns, name string, created int64, addrs, hostnames []string, hs ...string) *source.Ingress {
	in := &source.Ingress{Kind: source.KindIngress, Namespace: ns, Name: name, Created: time.Unix(created, 0), Hostnames: hostnames}
	for _, a := range addrs {
		in.Addresses = append(in.Addresses, netip.MustParseAddr(a))
	}
	for _, h := range hs {
		in.Rules = append(in.Rules, source.Rule{Host: h})
	}
	return in
}

// hostObjects are cluster c's objects: shop/storefront claims
// shop.example.com with backends cart and web.
func hostObjects(c hostCluster) source.Objects {
	shop := hostIngress("shop", "storefront", 1, c.addrs, nil, "shop.example.com.")
	shop.Rules[0].Services = []string{"cart", "web"}
	objs := source.Objects{
		Nodes:     []*source.Node{{Name: "node-1", Region: c.region, Zone: c.zone, Ready: true}},
		Ingresses: append([]*source.Ingress{shop}, c.extra...),
		Endpoints: []*source.EndpointSlice{
			{Namespace: "shop", Name: "cart-1", Service: "cart", AddressType: "IPv4", Ready: c.ready, Total: 2},
			{Namespace: "shop", Name: "web-1", Service: "web", AddressType: "IPv4", Ready: 2, Total: 2},
		},
	}
	return objs
}

// newHostPlugin serves example.com for federation myfed from clusters.
func newHostPlugin(t *testing.T, clusters []hostCluster, mod ...func(*Config)) *Meridian {
	t.Helper()
	m := newTestPlugin(t, mod...)
	m = assembled(t, m.cfg, m.locator) // without newTestPlugin's clusters
	for _, c := range clusters {
		m.pipe.Sink().Update(c.name, source.Fixed(hostObjects(c)))
		m.pipe.Sink().SetState(c.name, health.Up)
	}
	m.pipe.Rebuild()
	return m
}

// TestHostAnswers asks for the hosts of Ingresses: the closest cluster's
// address by ECS, both families, TXT naming the cluster, a wildcard
// answered with the query's name (a CNAME to a hostname-only load
// balancer), an exact host over a wildcard, names between a host and the
// zone, and names no one may claim.
func TestHostAnswers(t *testing.T) {
	m := newHostPlugin(t, hostClusters)
	for _, tc := range []struct {
		name   string
		qtype  uint16
		client string
		rcode  int
		want   []string // the answer records' data, in order
		scope  int      // the ECS scope; -1 when none is expected
	}{
		{"shop.example.com.", dns.TypeA, "27.0.0.0/24", dns.RcodeSuccess, []string{"203.0.113.101"}, 16},
		{"SHOP.example.com.", dns.TypeA, "24.0.0.0/24", dns.RcodeSuccess, []string{"192.0.2.101"}, 17}, // 24.0.128.0/24 is New York
		{"shop.example.com.", dns.TypeA, "81.0.0.0/24", dns.RcodeSuccess, []string{"198.51.100.101"}, 16},
		{"shop.example.com.", dns.TypeAAAA, "27.0.0.0/24", dns.RcodeSuccess, []string{"2001:db8:3::101"}, 16},
		// The US shard has no IPv6 address: the closest that has one.
		{"shop.example.com.", dns.TypeAAAA, "24.0.0.0/24", dns.RcodeSuccess, []string{"2001:db8:2::101"}, 17},
		{"shop.example.com.", dns.TypeTXT, "27.0.0.0/24", dns.RcodeSuccess, []string{"asia-east1-a"}, 16},
		{"shop.example.com.", dns.TypeSRV, "27.0.0.0/24", dns.RcodeSuccess, nil, -1},
		{"shop.example.com.", dns.TypeMX, "", dns.RcodeSuccess, nil, -1},
		// One shard: the answer is the same for every client, scope 0.
		{"x.apps.example.com.", dns.TypeA, "27.0.0.0/24", dns.RcodeSuccess, []string{"apps-eu.lb.example.net."}, 0},
		{"x.apps.example.com.", dns.TypeCNAME, "", dns.RcodeSuccess, []string{"apps-eu.lb.example.net."}, -1},
		{"special.apps.example.com.", dns.TypeA, "81.0.0.0/24", dns.RcodeSuccess, []string{"203.0.113.102"}, 0},
		{"a.x.apps.example.com.", dns.TypeA, "", dns.RcodeNameError, nil, -1},
		{"apps.example.com.", dns.TypeA, "", dns.RcodeSuccess, nil, -1},
		{"a.b.deep.example.com.", dns.TypeA, "", dns.RcodeSuccess, []string{"198.51.100.102"}, -1},
		{"b.deep.example.com.", dns.TypeA, "", dns.RcodeSuccess, nil, -1},
		{"deep.example.com.", dns.TypeTXT, "", dns.RcodeSuccess, nil, -1},
		{"c.deep.example.com.", dns.TypeA, "", dns.RcodeNameError, nil, -1},
		{"x.myfed.svc.example.com.", dns.TypeA, "", dns.RcodeNameError, nil, -1},
		{"nothing.example.com.", dns.TypeA, "", dns.RcodeNameError, nil, -1},
	} {
		resp := ask(t, m, query(tc.name, tc.qtype, tc.client))
		var got []string
		for _, rr := range resp.Answer {
			if !strings.EqualFold(rr.Header().Name, tc.name) {
				t.Errorf("%s %s: record %v is not at the query's name", tc.name, dns.TypeToString[tc.qtype], rr)
			}
			got = append(got, rrData(rr))
		}
		if resp.Rcode != tc.rcode || !slices.Equal(got, tc.want) {
			t.Errorf("%s %s from %q: %s %q, want %s %q", tc.name, dns.TypeToString[tc.qtype], tc.client,
				dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[tc.rcode], tc.want)
		}
		if len(got) == 0 {
			checkNegativeSOA(t, m, resp)
		}
		if tc.client != "" {
			if scope := ecsScope(resp); scope != tc.scope && tc.scope >= 0 {
				t.Errorf("%s %s from %q: scope %d, want %d", tc.name, dns.TypeToString[tc.qtype], tc.client, scope, tc.scope)
			}
		}
	}

	snap := m.Snapshot()
	var conflicts []string
	for _, c := range snap.Conflicts {
		conflicts = append(conflicts, c.Claim.Namespace+"/"+c.Claim.Name+" "+c.Why.String())
		if c.Why == model.Taken && c.Owner != (model.Key{Namespace: "shop", Name: "storefront"}) {
			t.Errorf("%v: owner %v", c, c.Owner)
		}
	}
	slices.Sort(conflicts)
	if want := []string{"evil/fed federation_name", "evil/shop taken"}; !slices.Equal(conflicts, want) {
		t.Errorf("conflicts %q, want %q", conflicts, want)
	}

	// The gauges, from this plugin's snapshot.
	instances.add(m)
	defer instances.remove(m)
	want := `# HELP coredns_meridian_hosts Hosts of Ingresses and Gateway API routes answered in the current snapshot, exact and wildcard.
# TYPE coredns_meridian_hosts gauge
coredns_meridian_hosts 4
# HELP coredns_meridian_hosts_outside_zones Hosts of Ingresses and routes in no zone Meridian serves: ignored.
# TYPE coredns_meridian_hosts_outside_zones gauge
coredns_meridian_hosts_outside_zones 0
`
	if err := testutil.CollectAndCompare(instances, strings.NewReader(want), "coredns_meridian_hosts", "coredns_meridian_hosts_outside_zones"); err != nil {
		t.Error(err)
	}
	for why, n := range map[string]int{"taken": 1, "federation_name": 1, "not_allowed": 0, "region_name": 0, "duplicate": 0} {
		if got := hostConflictGauge(t, why); got != n {
			t.Errorf("host_conflicts{reason=%q} = %d, want %d", why, got, n)
		}
	}
}

// hostConflictGauge reads coredns_meridian_host_conflicts{reason=why}.
func hostConflictGauge(t *testing.T, why string) int {
	t.Helper()
	v, ok := instanceValues(t)["coredns_meridian_host_conflicts{reason="+why+"}"]
	if !ok {
		t.Fatalf("no host_conflicts series of reason %q", why)
	}
	return int(v)
}

// TestHostBackendsUnready takes the Asian shard's cart backend down: the
// Asian client moves to the next closest cluster, with no restart, and the
// answer's TTL is the degraded one.
func TestHostBackendsUnready(t *testing.T) {
	clusters := slices.Clone(hostClusters)
	m := newHostPlugin(t, clusters)
	if got := aRecords(ask(t, m, query("shop.example.com.", dns.TypeA, "27.0.0.0/24"))); !slices.Equal(got, []string{"203.0.113.101"}) {
		t.Fatalf("before: %q", got)
	}
	clusters[2].ready = 0
	m.pipe.Sink().Update(clusters[2].name, source.Fixed(hostObjects(clusters[2])))
	m.pipe.Rebuild()
	resp := ask(t, m, query("shop.example.com.", dns.TypeA, "27.0.0.0/24"))
	if got := aRecords(resp); len(got) != 1 || got[0] == "203.0.113.101" {
		t.Errorf("after the Asian backends went unready: %q, want another cluster's", got)
	}
	if ttl := resp.Answer[0].Header().Ttl; ttl != m.cfg.Authority.DegradedTTL {
		t.Errorf("TTL %d, want the degraded %d", ttl, m.cfg.Authority.DegradedTTL)
	}
	h := m.Snapshot().Hosts["shop.example.com."]
	for _, sh := range h.Shards {
		if want := sh.Cluster.Name != "asia-east1-a"; sh.Usable != want {
			t.Errorf("%s: usable %v, want %v (backends %v)", sh.Cluster.Name, sh.Usable, want, sh.Backends())
		}
	}
}

func rrData(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.A:
		return r.A.String()
	case *dns.AAAA:
		return r.AAAA.String()
	case *dns.CNAME:
		return r.Target
	case *dns.TXT:
		for _, s := range r.Txt {
			if v, ok := strings.CutPrefix(s, "cluster="); ok {
				return v
			}
		}
		return strings.Join(r.Txt, " ")
	}
	return rr.String()
}

func aRecords(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

func ecsScope(m *dns.Msg) int {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}

// TestResolverHost checks the resolver role on hosts: the local cluster's
// Ingress address while its host shard is healthy, the authority's answer
// once it is not, and for a host the cluster does not serve.
func TestResolverHost(t *testing.T) {
	auth := newHostPlugin(t, hostClusters)
	res := newTestResolver(t, []string{servePlugin(t, auth)}, func(c *Config) { c.Resolver.Cluster = "asia-east1-a" })
	asia := hostClusters[2]
	res.pipe.Sink().Update(asia.name, source.Fixed(hostObjects(asia)))
	res.pipe.Sink().SetState(asia.name, health.Up)
	res.pipe.Rebuild()

	check := func(what, name string, qtype uint16, want ...string) {
		t.Helper()
		resp := ask(t, res, query(name, qtype, "27.0.0.0/24"))
		var got []string
		for _, rr := range resp.Answer {
			got = append(got, rrData(rr))
		}
		if resp.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
			t.Errorf("%s: %s %s: %s %q, want %q", what, name, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode], got, want)
		}
	}
	check("local", "shop.example.com.", dns.TypeA, "203.0.113.101")
	check("local", "shop.example.com.", dns.TypeAAAA, "2001:db8:3::101")
	check("local, other type", "shop.example.com.", dns.TypeMX)
	check("local exact host over the wildcard", "special.apps.example.com.", dns.TypeA, "203.0.113.102")
	check("not in the local cluster", "x.apps.example.com.", dns.TypeA, "apps-eu.lb.example.net.")

	// The local backends go unready, here and at the authority.
	unready := asia
	unready.ready = 0
	for _, m := range []*Meridian{res, auth} {
		m.pipe.Sink().Update(asia.name, source.Fixed(hostObjects(unready)))
		m.pipe.Rebuild()
	}
	check("remote", "shop.example.com.", dns.TypeA, "198.51.100.101")
}

// TestHostRules checks the Corefile's host_rule lines in a running
// plugin: a namespace the rules leave out is refused, not answered.
func TestHostRules(t *testing.T) {
	c := caddy.NewTestController("dns", "meridian example.com {\nfederation myfed\nhost_rule shop.example.com shop\n}")
	parsed, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	m := newHostPlugin(t, hostClusters, func(cfg *Config) { cfg.Build.HostRules = parsed.Build.HostRules })
	var got []string
	for _, c := range m.Snapshot().Conflicts {
		got = append(got, c.Claim.Namespace+"/"+c.Claim.Name+" "+c.Why.String())
	}
	slices.Sort(got)
	if want := []string{"evil/fed federation_name", "evil/shop not_allowed"}; !slices.Equal(got, want) {
		t.Errorf("conflicts %q, want %q", got, want)
	}
	if a := aRecords(ask(t, m, query("shop.example.com.", dns.TypeA, "27.0.0.0/24"))); !slices.Equal(a, []string{"203.0.113.101"}) {
		t.Errorf("shop.example.com: %v, want the shop namespace's Asian shard", a)
	}
}

package meridian

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// ruleTypes are the query types the one-record-set rule is checked for.
var ruleTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeTXT, dns.TypeSRV, dns.TypeMX, dns.TypeANY, 65280}

// ruleClients are client subnets in every region of the test database,
// one it cannot place, and none (the unplaceable source address).
var ruleClients = []string{"27.0.0.0/24", "24.0.0.0/24", "81.0.0.0/24", "41.0.0.0/24", "2001:200::/48", "10.1.0.0/16", ""}

// ruleDraws are the random numbers replayed for every type of one name
// and client: weighted picks and spill read them.
var ruleDraws = []uint64{1, 1 << 62, 3 << 62, ^uint64(0) - 7}

// fedShard is one service's shard in one cluster of a rule federation.
type fedShard struct {
	ns, name   string
	addrs      []string
	hostname   string
	ready, tot int
	ann        map[string]string
}

// fedCluster is one member cluster of a rule federation.
type fedCluster struct {
	name, region, zone string
	state              health.State
	shards             []fedShard
}

// newFederationPlugin serves example.com for federation myfed from clusters.
func newFederationPlugin(t testing.TB, clusters []fedCluster, mod ...func(*Config)) *Meridian {
	t.Helper()
	m := newTestPlugin(t, mod...)
	m = assembled(t, m.cfg, m.locator) // without newTestPlugin's clusters
	for _, c := range clusters {
		objs := source.Objects{Nodes: []*source.Node{{Name: "node-1", Region: c.region, Zone: c.zone, Ready: true}}}
		for _, sh := range c.shards {
			svc := &source.Service{Namespace: sh.ns, Name: sh.name, Annotations: sh.ann,
				Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}}
			for _, a := range sh.addrs {
				svc.Addresses = append(svc.Addresses, netip.MustParseAddr(a))
			}
			if sh.hostname != "" {
				svc.Hostnames = []string{sh.hostname}
			}
			objs.Services = append(objs.Services, svc)
			objs.Endpoints = append(objs.Endpoints, &source.EndpointSlice{Namespace: sh.ns, Name: sh.name + "-1", Service: sh.name,
				Ready: sh.ready, Total: sh.tot})
			// The same shard as the host of an Ingress, exact and wildcard,
			// the Service its backend.
			objs.Ingresses = append(objs.Ingresses, &source.Ingress{Kind: source.KindIngress, Namespace: sh.ns, Name: sh.name,
				Addresses: svc.Addresses, Hostnames: svc.Hostnames, Annotations: sh.ann, Rules: []source.Rule{
					{Host: sh.name + "." + sh.ns + ".hosts.example.com.", Services: []string{sh.name}},
					{Host: "*.w-" + sh.name + "." + sh.ns + ".hosts.example.com.", Services: []string{sh.name}}}})
		}
		m.pipe.Sink().Update(c.name, source.Fixed(objs))
		st := c.state
		if st == 0 {
			st = health.Up
		}
		m.pipe.Sink().SetState(c.name, st)
	}
	rebuildSettled(t, m)
	return m
}

// TestOneRecordSetPerName checks, over hand-made and generated federations
// in every health state, that a name is a CNAME for every query type or
// for none (RFC 1034 3.6.2, RFC 2181 10.1): for every service and SRV name
// at every level, every client network and every replayed draw.
func TestOneRecordSetPerName(t *testing.T) {
	feds := ruleFederations()
	for seed := range 24 {
		feds = append(feds, namedFed{fmt.Sprintf("generated-%d", seed), generateFederation(uint64(seed)), false})
	}
	for _, f := range feds {
		t.Run(f.name, func(t *testing.T) {
			m := newFederationPlugin(t, f.clusters)
			forms := checkRule(t, m)
			if snap := m.pipe.Snapshot(); len(snap.Hosts) == 0 || len(snap.Wildcards) != len(snap.Hosts) {
				t.Errorf("%d hosts and %d wildcards: the rule is not checked on hosts", len(snap.Hosts), len(snap.Wildcards))
			}
			if f.wantCNAME && forms[true] == 0 {
				t.Errorf("no name was a CNAME: the federation does not exercise the rule")
			}
		})
	}
}

// checkRule asks every type at every name of m's snapshot for every client
// and draw, checks the rule and returns how many (name, client, draw)
// triples were of each form (true: CNAME).
func checkRule(t *testing.T, m *Meridian) map[bool]int {
	t.Helper()
	forms := map[bool]int{}
	for _, name := range ruleNames(m) {
		for _, client := range ruleClients {
			for _, draw := range ruleDraws {
				isCNAME, ok := checkName(t, m, name, client, draw)
				if !ok {
					return forms // one failure per federation is enough to read
				}
				forms[isCNAME]++
			}
		}
	}
	return forms
}

// checkName asks every rule type at name for client with draw replayed,
// and reports whether the name is a CNAME, and whether the rule held.
func checkName(t *testing.T, m *Meridian, name, client string, draw uint64) (isCNAME, ok bool) {
	t.Helper()
	m.auth.SetRandom(func() uint64 { return draw })
	var first, firstTarget string
	for i, qt := range ruleTypes {
		m.auth.SetSeq(draw)
		resp := ask(t, m, query(name, qt, client))
		where := fmt.Sprintf("%s %s client %q draw %d", name, dns.TypeToString[qt], client, draw)
		if resp.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: rcode %s", where, dns.RcodeToString[resp.Rcode])
			return false, false
		}
		if err := cnameAlone(resp); err != nil {
			t.Errorf("%s: %v\n%v", where, err, resp)
			return false, false
		}
		target, is := leadingCNAME(resp, name)
		if i == 0 {
			isCNAME, first, firstTarget = is, dns.TypeToString[qt], target
		}
		if is != isCNAME || target != firstTarget {
			t.Errorf("%s: CNAME %v (%q), but %s: CNAME %v (%q)\n%v", where, is, target, first, isCNAME, firstTarget, resp)
			return false, false
		}
		if qt == dns.TypeCNAME && is && len(resp.Answer) != 1 {
			t.Errorf("%s: a CNAME question gets the CNAME alone, got %v", where, resp.Answer)
			return false, false
		}
		if qt == dns.TypeSRV && !checkGlue(t, m, resp, client, draw, where) {
			return false, false
		}
	}
	return isCNAME, true
}

// leadingCNAME returns the target of the CNAME at name that opens resp's
// answer, if any.
func leadingCNAME(resp *dns.Msg, name string) (string, bool) {
	if len(resp.Answer) == 0 {
		return "", false
	}
	c, ok := resp.Answer[0].(*dns.CNAME)
	if !ok || !strings.EqualFold(c.Hdr.Name, name) {
		return "", false
	}
	return strings.ToLower(c.Target), true
}

// cnameAlone checks that no owner of a CNAME in resp holds any other
// record (answer and additional sections).
func cnameAlone(resp *dns.Msg) error {
	types := map[string][]uint16{}
	for _, rr := range slices.Concat(resp.Answer, resp.Extra) {
		h := rr.Header()
		if h.Rrtype != dns.TypeOPT {
			o := strings.ToLower(h.Name)
			types[o] = append(types[o], h.Rrtype)
		}
	}
	for owner, ts := range types {
		if slices.Contains(ts, dns.TypeCNAME) && len(ts) > 1 {
			return fmt.Errorf("%s holds a CNAME and other records: %v", owner, ts)
		}
	}
	return nil
}

// checkGlue checks that the address records an SRV reply carries are the
// answer a query for their owner gets for the same client and draw.
func checkGlue(t *testing.T, m *Meridian, resp *dns.Msg, client string, draw uint64, where string) bool {
	t.Helper()
	glue := map[string][]string{}
	for _, rr := range resp.Extra {
		if h := rr.Header(); h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA {
			k := strings.ToLower(h.Name) + " " + dns.TypeToString[h.Rrtype]
			glue[k] = append(glue[k], rr.String())
		}
	}
	for k, got := range glue {
		owner, typ, _ := strings.Cut(k, " ")
		m.auth.SetSeq(draw)
		direct := ask(t, m, query(owner, dns.StringToType[typ], client))
		var want []string
		for _, rr := range direct.Answer {
			want = append(want, rr.String())
		}
		if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: glue %s is %v, but a query for it gets %v", where, k, got, want)
			return false
		}
	}
	return true
}

// ruleNames lists every service name and SRV name of m's snapshot at
// every level: global, each region and each zone.
func ruleNames(m *Meridian) []string {
	snap := m.pipe.Snapshot()
	var names []string
	for key := range snap.Services {
		base := key.Name + "." + key.Namespace + ".myfed.svc."
		levels := []string{"example.com."}
		for region, zones := range snap.Regions {
			levels = append(levels, region+".example.com.")
			for _, z := range zones {
				levels = append(levels, z+"."+region+".example.com.")
			}
		}
		for _, l := range levels {
			names = append(names, base+l, "_http._tcp."+base+l)
		}
	}
	for h := range snap.Hosts {
		names = append(names, h)
	}
	for suffix := range snap.Wildcards {
		names = append(names, "any."+suffix)
	}
	slices.Sort(names)
	return names
}

// namedFed is a rule federation with its name; wantCNAME says some name
// must be a CNAME in it.
type namedFed struct {
	name      string
	clusters  []fedCluster
	wantCNAME bool
}

// ruleFederations are the states the issue names, on a small demo:
// all healthy, a family missing in a region, levels fallen back,
// hostname-only shards (alone and beside IP shards), fail-open.
func ruleFederations() []namedFed {
	ipShard := func(ns, name, v4, v6 string, ready int) fedShard {
		sh := fedShard{ns: ns, name: name, ready: ready, tot: 3}
		for _, a := range []string{v4, v6} {
			if a != "" {
				sh.addrs = append(sh.addrs, a)
			}
		}
		return sh
	}
	hostShard := func(ns, name, host string, ready int) fedShard {
		return fedShard{ns: ns, name: name, hostname: host, ready: ready, tot: 3}
	}
	demo := func(echoV6 func(region string) bool, ready func(cluster string) int, web func(cluster string) fedShard) []fedCluster {
		var out []fedCluster
		for i, region := range []string{"us-central1", "europe-west1", "asia-east1"} {
			for j, z := range []string{"a", "b"} {
				name := region + "-" + z
				v6 := ""
				if echoV6(region) {
					v6 = fmt.Sprintf("2001:db8:%d::%d", i+1, j+1)
				}
				c := fedCluster{name: name, region: region, zone: name, shards: []fedShard{
					ipShard("default", "nginx", fmt.Sprintf("192.0.2.%d", 10*i+j+1), "", ready(name)),
					ipShard("default", "echo", fmt.Sprintf("198.51.100.%d", 10*i+j+1), v6, ready(name)),
				}}
				if w := web(name); w.name != "" {
					c.shards = append(c.shards, w)
				}
				out = append(out, c)
			}
		}
		return out
	}
	all := func(string) bool { return true }
	ready := func(string) int { return 3 }
	noWeb := func(string) fedShard { return fedShard{} }
	webIn := func(clusters ...string) func(string) fedShard {
		return func(c string) fedShard {
			for i, w := range clusters {
				if w == c {
					if i == 0 {
						return hostShard("shop", "web", "web-"+c+".lb.example.net.", 2)
					}
					return ipShard("shop", "web", "203.0.113."+fmt.Sprint(i), "2001:db8:9::"+fmt.Sprint(i), 2)
				}
			}
			return fedShard{}
		}
	}
	unready := func(prefixes ...string) func(string) int {
		return func(c string) int {
			for _, p := range prefixes {
				if strings.HasPrefix(c, p) {
					return 0
				}
			}
			return 3
		}
	}
	return []namedFed{
		{"all healthy", demo(all, ready, noWeb), false},
		{"echo without IPv6 in us-central1", demo(func(r string) bool { return r != "us-central1" }, ready, noWeb), false},
		{"zone fallen back", demo(all, unready("us-central1-b"), noWeb), true},
		{"region fallen back", demo(all, unready("asia-east1"), noWeb), true},
		{"fail-open", demo(all, unready(""), noWeb), true},
		{"hostname-only shard", demo(all, ready, webIn("europe-west1-a")), true},
		{"hostname shard beside IP shards", demo(all, ready, webIn("europe-west1-a", "us-central1-a", "asia-east1-b")), true},
		{"hostname shard beside IP shards, fallen back", demo(all, unready("europe-west1-b", "asia"), webIn("europe-west1-a", "asia-east1-a")), true},
	}
}

// generateFederation makes a random federation from seed: clusters in
// three regions, services whose shards have IPv4, IPv6, both, a hostname,
// a hostname and IPv4, or nothing, ready or not, in clusters up, stale or
// down, under every policy.
func generateFederation(seed uint64) []fedCluster {
	r := rand.New(rand.NewPCG(seed, 0x6d6572696469616e))
	regions := []string{"us-central1", "europe-west1", "asia-east1"}
	policies := []map[string]string{
		nil,
		{policy.AnnShards: "2"},
		{policy.AnnPolicy: "failover", policy.AnnFailover: "europe-west1, c1"},
		{policy.AnnPolicy: "weighted", policy.AnnWeights: "c0=1, c1=3, c2=2, c3=5, c4=1"},
		{policy.AnnPolicy: "roundrobin", policy.AnnShards: "2"},
		{policy.AnnSpill: "50%"},
	}
	n := 2 + r.IntN(5)
	services := 1 + r.IntN(3)
	clusters := make([]fedCluster, n)
	for i := range clusters {
		region := regions[r.IntN(len(regions))]
		c := fedCluster{name: fmt.Sprintf("c%d", i), region: region, zone: region + "-" + string(rune('a'+r.IntN(2)))}
		switch r.IntN(8) {
		case 0:
			c.state = health.Down
		case 1:
			c.state = health.Stale
		}
		for s := range services {
			if r.IntN(5) == 0 {
				continue // the service does not run here
			}
			sh := fedShard{ns: "default", name: fmt.Sprintf("s%d", s), ready: r.IntN(4), tot: 3,
				ann: policies[(int(seed)+s)%len(policies)]}
			switch r.IntN(6) {
			case 0:
				sh.addrs = []string{fmt.Sprintf("192.0.2.%d", i+1)}
			case 1:
				sh.addrs = []string{fmt.Sprintf("2001:db8::%d", i+1)}
			case 2:
				sh.addrs = []string{fmt.Sprintf("192.0.2.%d", i+1), fmt.Sprintf("2001:db8::%d", i+1)}
			case 3:
				sh.hostname = fmt.Sprintf("lb-%d.example.net.", i)
			case 4:
				sh.hostname = fmt.Sprintf("lb-%d.example.net.", i)
				sh.addrs = []string{fmt.Sprintf("192.0.2.%d", i+1)}
			}
			c.shards = append(c.shards, sh)
		}
		clusters[i] = c
	}
	return clusters
}

// TestDecideForms checks answer.Decide and answer.ByFamily on the
// federations of the rule test: a name whose decision holds records never
// has an A or AAAA answer naming a hostname-only shard, and an alias is
// always the first chosen shard's hostname.
func TestDecideForms(t *testing.T) {
	m := newFederationPlugin(t, ruleFederations()[6].clusters)
	snap := m.pipe.Snapshot()
	for key, svc := range snap.Services {
		q, o := answer.Query{Level: answer.Global}, answer.Options{}
		d := answer.Decide(svc, &q, &o, false, nil)
		switch {
		case d.Up:
			t.Errorf("%v: the global level never goes up", key)
		case d.Alias && (d.Shards[0].HasIP() || d.Shards[0].Hostname == ""):
			t.Errorf("%v: alias, but the first shard is %+v", key, d.Shards[0])
		case !d.Alias:
			for _, f := range []answer.Family{answer.V4, answer.V6} {
				for _, sh := range answer.ByFamily(svc, &q, &d, f, &o, nil).Shards {
					if !sh.HasIP() {
						t.Errorf("%v: family %d names hostname-only shard %s", key, f, sh.Cluster.Name)
					}
				}
			}
		}
	}
}

// TestServeDNSOneRecordSet pins the findings of issue 10 on the handler
// fixture: in it, nginx's us-central1-b shard has no ready endpoint, so
// that zone's name has fallen back, and shop/web runs only behind a
// load-balancer hostname.
func TestServeDNSOneRecordSet(t *testing.T) {
	q := query
	const web = "web.shop.myfed.svc.example.com."
	const lb = "web-eu.lb.example.net."
	tests := []serveCase{
		// A hostname load balancer: a CNAME for every type (finding 2).
		{name: "hostname LB: A", msg: q(web, dns.TypeA, ""), answer: []string{web + " 30 IN CNAME " + lb}, scope: -1},
		{name: "hostname LB: TXT", msg: q(web, dns.TypeTXT, ""), answer: []string{web + " 30 IN CNAME " + lb}, scope: -1},
		{name: "hostname LB: MX", msg: q(web, dns.TypeMX, ""), answer: []string{web + " 30 IN CNAME " + lb}, scope: -1},
		{name: "hostname LB: CNAME", msg: q(web, dns.TypeCNAME, ""), answer: []string{web + " 30 IN CNAME " + lb}, scope: -1},
		{name: "hostname LB: ANY", msg: q(web, dns.TypeANY, ""), answer: []string{web + " 30 IN CNAME " + lb}, scope: -1},
		// A zone that has fallen back: a CNAME for every type (finding 1).
		{name: "fallen-back zone: AAAA follows the chain", msg: q(usc1b, dns.TypeAAAA, ""),
			answer: []string{usc1b + " 5 IN CNAME " + usc1}, ns: []string{soa}, scope: -1},
		{name: "fallen-back zone: TXT", msg: q(usc1b, dns.TypeTXT, ""),
			answer: []string{usc1b + " 5 IN CNAME " + usc1, usc1 + ` 5 IN TXT "cluster=us-central1-a" "region=us-central1" "zones=us-central1-a" "ready=3/3"`}, scope: -1},
		{name: "fallen-back zone: MX", msg: q(usc1b, dns.TypeMX, ""), answer: []string{usc1b + " 5 IN CNAME " + usc1}, ns: []string{soa}, scope: -1},
		{name: "fallen-back zone: ANY gets the CNAME alone", msg: q(usc1b, dns.TypeANY, ""), answer: []string{usc1b + " 5 IN CNAME " + usc1}, scope: -1},
		{name: "fallen-back zone: unknown type", msg: q(usc1b, 65280, ""), answer: []string{usc1b + " 5 IN CNAME " + usc1}, ns: []string{soa}, scope: -1},
		// A name that holds records: NODATA for CNAME, a family it lacks.
		{name: "records: CNAME question is NODATA", msg: q(global, dns.TypeCNAME, "27.0.0.0/24"), ns: []string{soa}, scope: 16},
		{name: "region without IPv6: AAAA is NODATA, not a CNAME", msg: q(usc1, dns.TypeAAAA, ""), ns: []string{soa}, scope: -1},
		{name: "empty non-terminal: ANY is NODATA", msg: q("_tcp."+global, dns.TypeANY, ""), ns: []string{soa}, scope: -1},
		{name: "namespace: ANY is NODATA", msg: q("default.myfed.svc.example.com.", dns.TypeANY, ""), ns: []string{soa}, scope: -1},
		{name: "records: ANY gets RFC 8482", msg: q(usc1a, dns.TypeANY, ""), answer: []string{usc1a + ` 30 IN HINFO "RFC8482" ""`}, scope: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkServe(t, newTestPlugin(t), tc) })
	}
}

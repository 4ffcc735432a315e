package meridian

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/internal/nettest"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/promtest"
	"github.com/meridian-dns/meridian/plugin/source"
)

const (
	kubeGlobal = "nginx.default.myfed.svc.cluster.local."
	webUSC1B   = "web.shop.myfed.svc.us-central1-b.us-central1.example.com."
	webUSC1    = "web.shop.myfed.svc.us-central1.example.com."
	webGlobal  = "web.shop.myfed.svc.example.com."
)

// serveAuthority serves the handler tests' authoritative plugin (four
// clusters, see testClusters) on addr (127.0.0.1:0: a free port), UDP and
// TCP, until the test ends, and returns its address.
func serveAuthority(t testing.TB) string {
	t.Helper()
	a, _ := serveCountedAuthority(t)
	return a
}

// serveCountedAuthority is serveAuthority, with mod applied to the
// authority's configuration, that also returns the count of queries the
// authority has answered.
func serveCountedAuthority(t testing.TB, mod ...func(*Config)) (string, *atomic.Int64) {
	t.Helper()
	pc, ln := nettest.ListenPair(t)
	return pc.LocalAddr().String(), serveOn(t, pc, ln, newTestPlugin(t, mod...))
}

// serveAuthorityOn serves the authority on pc and over TCP on the same
// port, and returns the count of queries it has answered.
func serveAuthorityOn(t testing.TB, pc net.PacketConn, mod ...func(*Config)) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	return serveOn(t, pc, ln, newTestPlugin(t, mod...))
}

// servePlugin serves auth on a free port of 127.0.0.1, UDP and TCP, until
// the test ends, and returns its address.
func servePlugin(t testing.TB, auth *Meridian) string {
	t.Helper()
	pc, ln := nettest.ListenPair(t)
	serveOn(t, pc, ln, auth)
	return pc.LocalAddr().String()
}

// serveOn serves auth on pc and ln, and returns the count of queries it
// has answered.
func serveOn(t testing.TB, pc net.PacketConn, ln net.Listener, auth *Meridian) *atomic.Int64 {
	t.Helper()
	queries := new(atomic.Int64)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		queries.Add(1)
		auth.ServeDNS(context.Background(), w, r)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return queries
}

// localObjects is the resolver's own cluster, us-central1-b: nginx
// (single-stack, nginxReady ready endpoints of 3), echo (dual-stack,
// ready) and db (headless, ready).
func localObjects(nginxReady int) source.Objects {
	port := []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}
	return source.Objects{
		Nodes: []*source.Node{{Name: "node-1", Region: "us-central1", Zone: "us-central1-b", Ready: true}},
		Services: []*source.Service{
			{Namespace: "default", Name: "nginx", Ports: port, ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.10")}},
			{Namespace: "default", Name: "echo", Ports: port, ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.20"), netip.MustParseAddr("fd00::20")}},
			{Namespace: "default", Name: "db", Ports: port},
		},
		Endpoints: []*source.EndpointSlice{
			{Namespace: "default", Name: "nginx-1", Service: "nginx", Ready: nginxReady, Total: 3},
			{Namespace: "default", Name: "echo-1", Service: "echo", Ready: 1, Total: 1},
			{Namespace: "default", Name: "db-1", Service: "db", Ready: 1, Total: 1},
		},
	}
}

// newTestResolver returns a resolver-role plugin for cluster us-central1-b
// serving example.com and the kube form, forwarding to upstreams.
func newTestResolver(t testing.TB, upstreams []string, mod ...func(*Config)) *Meridian {
	t.Helper()
	cfg := newConfig()
	cfg.Zones = []string{"example.com.", "myfed.svc.cluster.local."}
	cfg.Federation = "myfed"
	cfg.Role = Resolver
	cfg.Resolver.Cluster = "us-central1-b"
	cfg.Resolver.Upstreams = upstreams
	// An attempt may take 1 s: a loopback exchange under -race on a loaded
	// 2-core machine, after TestResolverFailover's dead first server.
	cfg.Resolver.UpstreamTimeout, cfg.Resolver.UpstreamTotal = time.Second, 2*time.Second
	for _, f := range mod {
		f(cfg)
	}
	m := assembled(t, cfg, nil)
	setLocal(m, 3, health.Up)
	return m
}

// setLocal changes the local cluster: nginx's ready endpoints and the
// cluster's state.
func setLocal(m *Meridian, nginxReady int, st health.State) {
	m.pipe.Sink().Update("us-central1-b", source.Fixed(localObjects(nginxReady)))
	m.pipe.Sink().SetState("us-central1-b", st)
	m.pipe.Rebuild()
}

func ask(t *testing.T, m *Meridian, msg *dns.Msg) *dns.Msg {
	t.Helper()
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := m.ServeDNS(context.Background(), rec, msg); err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	if rec.Msg == nil {
		t.Fatal("no reply written")
	}
	return rec.Msg
}

// negativeSOAs are the SOAs of negative replies the resolver passes on
// from the test authority (the fixture's defaults) or makes for the
// kube-form zone (local_ttl), by TestResolverServe's "owner SOA".
var negativeSOAs = map[string]wantSOA{
	soa:                            {"example.com.", "ns1.example.com.", "hostmaster.example.com.", 30},
	"myfed.svc.cluster.local. SOA": {"myfed.svc.cluster.local.", "ns.dns.cluster.local.", "hostmaster.cluster.local.", 5},
}

func TestResolverServe(t *testing.T) {
	up := serveAuthority(t)
	cname := func(c *Config) { c.Resolver.LocalCNAME = true }
	// In the authority, nginx has no ready endpoint in us-central1-b and
	// is ready in us-central1-a; shop/web runs in europe-west1-b only,
	// behind a load-balancer hostname.
	tests := []struct {
		name   string
		msg    *dns.Msg
		mod    func(*Config)
		ready  int          // nginx's ready endpoints in the local cluster
		state  health.State // the local cluster's state (zero: Up)
		rcode  int
		aa     bool
		answer []string
		ns     []string
		scope  int // -1: no ECS in the reply
	}{
		{name: "local A", msg: query(global, dns.TypeA, ""), ready: 3, aa: true,
			answer: []string{global + " 5 IN A 10.96.0.10"}, scope: -1},
		{name: "local A, upper case, ECS echoed with scope 0", msg: query("NGINX.default.MyFed.svc.example.COM.", dns.TypeA, "198.51.100.0/24"), ready: 3, aa: true,
			answer: []string{"NGINX.default.MyFed.svc.example.COM. 5 IN A 10.96.0.10"}, scope: 0},
		{name: "local AAAA of a single-stack Service is NODATA", msg: query(global, dns.TypeAAAA, ""), ready: 3, aa: true, scope: -1},
		{name: "local dual-stack AAAA", msg: query("echo.default.myfed.svc.example.com.", dns.TypeAAAA, ""), ready: 3, aa: true,
			answer: []string{"echo.default.myfed.svc.example.com. 5 IN AAAA fd00::20"}, scope: -1},
		{name: "local kube form", msg: query(kubeGlobal, dns.TypeA, ""), ready: 3, aa: true,
			answer: []string{kubeGlobal + " 5 IN A 10.96.0.10"}, scope: -1},
		{name: "local CNAME mode", msg: query(global, dns.TypeA, ""), mod: cname, ready: 3, aa: true,
			answer: []string{global + " 5 IN CNAME nginx.default.svc.cluster.local.", "nginx.default.svc.cluster.local. 5 IN A 10.96.0.10"}, scope: -1},
		{name: "local CNAME mode, CNAME question", msg: query(global, dns.TypeCNAME, ""), mod: cname, ready: 3, aa: true,
			answer: []string{global + " 5 IN CNAME nginx.default.svc.cluster.local."}, scope: -1},
		{name: "local address mode, CNAME question is NODATA", msg: query(global, dns.TypeCNAME, ""), ready: 3, aa: true, scope: -1},
		{name: "unhealthy: zone -> region chain through the authority", msg: query(global, dns.TypeA, ""), ready: 0,
			answer: []string{global + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"}, scope: -1},
		{name: "unhealthy, kube form", msg: query(kubeGlobal, dns.TypeA, ""), ready: 0,
			answer: []string{kubeGlobal + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"}, scope: -1},
		{name: "unhealthy, ECS passed to the authority", msg: query(global, dns.TypeA, "198.51.100.0/24"), ready: 0,
			answer: []string{global + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"}, scope: 0},
		{name: "unhealthy, CNAME question: the CNAME alone", msg: query(global, dns.TypeCNAME, ""), ready: 0,
			answer: []string{global + " 5 IN CNAME " + usc1b}, scope: -1},
		{name: "cluster down: remote although ready", msg: query(global, dns.TypeA, ""), ready: 3, state: health.Down,
			answer: []string{global + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"}, scope: -1},
		{name: "headless: remote, and no CNAME of the global name to itself", msg: query("db.default.myfed.svc.example.com.", dns.TypeA, ""), ready: 3,
			aa: true, rcode: dns.RcodeNameError, ns: []string{soa}, scope: -1},
		{name: "not in the local cluster: zone -> region -> global", msg: query(webGlobal, dns.TypeA, ""), ready: 3,
			answer: []string{webGlobal + " 5 IN CNAME " + webUSC1B, webUSC1B + " 30 IN CNAME " + webUSC1, webUSC1 + " 30 IN CNAME " + webGlobal,
				webGlobal + " 30 IN CNAME web-eu.lb.example.net."}, scope: -1},
		{name: "region name forwarded unchanged", msg: query(usc1, dns.TypeA, ""), ready: 3, aa: true,
			answer: []string{usc1 + " 5 IN A 192.0.2.11"}, scope: -1},
		{name: "SRV forwarded unchanged", msg: query("_http._tcp."+global, dns.TypeSRV, ""), ready: 3, aa: true,
			answer: []string{"_http._tcp." + global + " SRV"}, scope: -1},
		{name: "apex SOA forwarded", msg: query("example.com.", dns.TypeSOA, ""), ready: 3, aa: true,
			answer: []string{"example.com. SOA"}, ns: []string{"example.com. NS"}, scope: -1},
		{name: "unknown name forwarded: NXDOMAIN", msg: query("nope.example.com.", dns.TypeA, ""), ready: 3, aa: true, rcode: dns.RcodeNameError,
			ns: []string{soa}, scope: -1},
		// A name is a CNAME for every type or for none: other types follow
		// the address decision.
		{name: "local TXT is NODATA, as the name holds addresses", msg: query(global, dns.TypeTXT, ""), ready: 3, aa: true, scope: -1},
		{name: "local kube form TXT is NODATA", msg: query(kubeGlobal, dns.TypeTXT, ""), ready: 3, aa: true, scope: -1},
		{name: "local CNAME mode, TXT: the CNAME alone", msg: query(global, dns.TypeTXT, ""), mod: cname, ready: 3, aa: true,
			answer: []string{global + " 5 IN CNAME nginx.default.svc.cluster.local."}, scope: -1},
		{name: "unhealthy TXT: the same chain as A", msg: query(global, dns.TypeTXT, ""), ready: 0,
			answer: []string{global + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " TXT"}, scope: -1},
		{name: "unhealthy kube form MX: the chain, then NODATA", msg: query(kubeGlobal, dns.TypeMX, ""), ready: 0,
			answer: []string{kubeGlobal + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1}, ns: []string{soa}, scope: -1},
		{name: "kube form namespace: NODATA", msg: query("default.myfed.svc.cluster.local.", dns.TypeA, ""), ready: 3, aa: true,
			ns: []string{"myfed.svc.cluster.local. SOA"}, scope: -1},
		{name: "kube form junk: NXDOMAIN", msg: query("a.b.c.d.myfed.svc.cluster.local.", dns.TypeA, ""), ready: 3, aa: true, rcode: dns.RcodeNameError,
			ns: []string{"myfed.svc.cluster.local. SOA"}, scope: -1},
		{name: "outside the zones: REFUSED", msg: query("example.org.", dns.TypeA, ""), ready: 3, rcode: dns.RcodeRefused, scope: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestResolver(t, []string{up}, modOrNil(tc.mod)...)
			setLocal(m, tc.ready, tc.state)
			resp := ask(t, m, tc.msg)
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if resp.Authoritative != tc.aa {
				t.Errorf("AA %v, want %v", resp.Authoritative, tc.aa)
			}
			if resp.Id != tc.msg.Id {
				t.Errorf("id %d, want %d", resp.Id, tc.msg.Id)
			}
			checkSection(t, "answer", resp.Answer, tc.answer)
			checkSection(t, "authority", resp.Ns, tc.ns)
			if want, ok := negativeSOAs[strings.Join(tc.ns, "")]; ok && len(resp.Answer) == 0 {
				checkSOA(t, resp.Ns, want)
			}
			checkScope(t, resp, tc.scope)
		})
	}
}

// TestResolverUpstreamDown: with no upstream server answering, a remote
// answer is SERVFAIL with EDE 22 (No Reachable Authority) within the total
// timeout, local answers go on, and once the server is back the chain is
// answered. The upstream's socket is held, silent, from the start, so no
// other process can take its port before the authority serves on it.
func TestResolverUpstreamDown(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	m := newTestResolver(t, []string{pc.LocalAddr().String()})
	setLocal(m, 0, health.Up)

	q := query(global, dns.TypeA, "")
	q.SetEdns0(1232, false)
	start := time.Now()
	resp := ask(t, m, q)
	took := time.Since(start)
	if resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	// Room for a loaded 2-core machine under -race; a hang would take
	// far longer.
	if took > m.cfg.Resolver.UpstreamTotal+time.Second {
		t.Errorf("SERVFAIL after %v, more than the total %v (+1s)", took, m.cfg.Resolver.UpstreamTotal)
	}
	if code, ok := edeCode(resp); !ok || code != dns.ExtendedErrorCodeNoReachableAuthority {
		t.Errorf("EDE %d (present %v), want %d", code, ok, dns.ExtendedErrorCodeNoReachableAuthority)
	}
	// Forwarded names fail the same way; the local answer does not care.
	if resp := ask(t, m, query(usc1, dns.TypeA, "")); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("forwarded: rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	if resp := ask(t, m, query("echo.default.myfed.svc.example.com.", dns.TypeA, "")); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("local answer while the upstream is down: %v", resp)
	}

	serveAuthorityOn(t, pc)
	resp = ask(t, m, query(global, dns.TypeA, ""))
	checkSection(t, "answer", resp.Answer, []string{global + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"})
}

// TestResolverFailover: a dead first upstream costs one attempt, and the
// second server answers within the total timeout.
func TestResolverFailover(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() }) // open but silent: every attempt times out
	m := newTestResolver(t, []string{dead.LocalAddr().String(), serveAuthority(t)})
	setLocal(m, 0, health.Up)
	resp := ask(t, m, query(global, dns.TypeA, ""))
	checkSection(t, "answer", resp.Answer, []string{global + " 5 IN CNAME " + usc1b, usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"})
}

// edeCode returns the Extended DNS Error of m, if any.
func edeCode(m *dns.Msg) (uint16, bool) {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if x, ok := e.(*dns.EDNS0_EDE); ok {
				return x.InfoCode, true
			}
		}
	}
	return 0, false
}

// TestResolverStaleUpstream: the resolver of us-central1-a sees nginx fail
// there before the authority does (in the authority nginx is still ready in
// us-central1-a). The authority's answer, naming the failed shard's load
// balancer, is served for one second and not cached; once the authority
// agrees, the chain moves on.
func TestResolverStaleUpstream(t *testing.T) {
	up := serveAuthority(t)
	m := newTestResolver(t, []string{up}, func(c *Config) { c.Resolver.Cluster = "us-central1-a" })
	objs := localObjects(0)
	objs.Nodes[0].Zone = "us-central1-a"
	objs.Services[0].Addresses = []netip.Addr{netip.MustParseAddr("192.0.2.11")}
	m.pipe.Sink().Update("us-central1-a", source.Fixed(objs))
	m.pipe.Sink().SetState("us-central1-a", health.Up)
	m.pipe.Rebuild()

	stale := func() float64 {
		return promtest.Values(t, prometheus.DefaultGatherer)["coredns_meridian_resolver_stale_upstream_answers_total"]
	}
	stale0 := stale()
	for range 2 {
		resp := ask(t, m, query(global, dns.TypeA, ""))
		checkSection(t, "answer", resp.Answer, []string{global + " 5 IN CNAME " + usc1a, usc1a + " 1 IN A 192.0.2.11"})
	}
	if n := stale() - stale0; n != 2 {
		t.Errorf("stale answers counted %v, want 2 (the first was not cached)", n)
	}
}

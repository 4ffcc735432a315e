package kube

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// The federation of the resolver test: member-1 is the local cluster, in
// the same region as member-2; member-3 is in another region.
var resolverMembers = []member{
	{"member-1", "us-central1", "us-central1-a", "192.0.2.1"},
	{"member-2", "us-central1", "us-central1-b", "192.0.2.2"},
	{"member-3", "europe-west1", "europe-west1-b", "198.51.100.3"},
}

const (
	kubeNginx   = "nginx.default.myfed.svc.cluster.local."
	zoneNginx   = "nginx.default.myfed.svc.us-central1-a.us-central1.example.com."
	regionNginx = "nginx.default.myfed.svc.us-central1.example.com."
	webGlobal   = "web.default.myfed.svc.example.com."
)

// TestResolverStubDomain proves the local-first resolver end to end, as
// deploy/resolver ships it: three real API servers; an authoritative
// Meridian serving example.com from all three; the resolver of member-1
// started from the Corefile of deploy/resolver/configmap.yaml (as stored in
// member-1), with the token of CoreDNS's ServiceAccount bound by
// deploy/resolver/rbac.yaml; and stock CoreDNS, built from the same CoreDNS
// module, serving cluster.local with its kubernetes plugin and the stub
// domain of deploy/resolver/stub-domain.Corefile. Every query goes through
// that stock CoreDNS, as a pod's would.
func TestResolverStubDomain(t *testing.T) {
	e := startStubDomain(t)
	t.Run("local shard ready: the local cluster IP", e.local)
	t.Run("local shard unready: zone falls back to region", e.zoneToRegion)
	t.Run("region unready too: region falls back to global", e.regionToGlobal)
	t.Run("local shard back: local again", func(t *testing.T) {
		setReady(t, e.f.admin["member-2"], "nginx", 3)
		setReady(t, e.f.admin["member-1"], "nginx", 3)
		t.Logf("local after %v", e.expect(t, "local answer again", e.clusterIP))
	})
	t.Run("upstream down: SERVFAIL within the timeout, then recovery", e.upstreamDown)
	t.Run("metrics", e.metrics)
}

// stubDomain is the running setup of TestResolverStubDomain.
type stubDomain struct {
	f                       *federation
	auth, resolver, cluster *e2eutil.Server
	clusterIP               string        // nginx's cluster IP in member-1
	pod                     *net.Resolver // Go's resolver, pointed at the cluster DNS
}

func startStubDomain(t *testing.T) *stubDomain {
	f := startFederation(t, len(resolverMembers))
	fed := map[string]string{fedLabel: "myfed"}
	for _, m := range resolverMembers {
		c := f.admin[m.name]
		addNode(t, c, m)
		addService(t, c, m, "nginx", fed, 3)
	}
	addService(t, f.admin["member-3"], resolverMembers[2], "web", fed, 3)
	svc, err := f.admin["member-1"].CoreV1().Services("default").Get(context.Background(), "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	all := filepath.Join(dir, "federation.kubeconfig")
	f.writeKubeconfig(t, all, "member-1", "member-2", "member-3")
	e := &stubDomain{f: f, clusterIP: svc.Spec.ClusterIP}
	e.auth = startMeridian(t, all, "default_regions us-central1 europe-west1")
	e.resolver = startResolver(t, f, dir, e.auth.DNS)
	e.cluster = startClusterDNS(t, f, dir, e.resolver.DNS)
	e.pod = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, e.cluster.DNS)
	}}
	return e
}

func (e *stubDomain) ask(t *testing.T, name string, qtype uint16) *dns.Msg {
	t.Helper()
	return e.cluster.Ask(t, "udp", name, qtype, "")
}

// addrs returns the sorted A records the cluster DNS answers name with.
func (e *stubDomain) addrs(t *testing.T, name string) []string {
	t.Helper()
	return slices.Sorted(slices.Values(e2eutil.Addrs(e.ask(t, name, dns.TypeA))))
}

// expect waits until nginx's global name is answered with want.
func (e *stubDomain) expect(t *testing.T, what string, want ...string) time.Duration {
	t.Helper()
	return e2eutil.Eventually(t, 15*time.Second, what, func() bool { return slices.Equal(e.addrs(t, nginx), want) })
}

// lookup resolves name with Go's resolver, as a Go program in a pod would.
func (e *stubDomain) lookup(t *testing.T, name string) []string {
	t.Helper()
	got, err := e.pod.LookupHost(context.Background(), strings.TrimSuffix(name, "."))
	if err != nil {
		t.Errorf("Go resolver %s: %v", name, err)
	}
	return slices.Sorted(slices.Values(got))
}

func (e *stubDomain) local(t *testing.T) {
	ip := []string{e.clusterIP}
	e.expect(t, "local answer", ip...)
	r := e.ask(t, nginx, dns.TypeA)
	if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 5 || !r.Authoritative {
		t.Errorf("local answer %v (AA %v), want one A with TTL 5, AA", r.Answer, r.Authoritative)
	}
	if got := e.addrs(t, kubeNginx); !slices.Equal(got, ip) {
		t.Errorf("kube-dns form: %v, want %s", got, ip)
	}
	// The same address the cluster DNS gives the Service itself.
	if got := e.addrs(t, "nginx.default.svc.cluster.local."); !slices.Equal(got, ip) {
		t.Errorf("nginx.default.svc.cluster.local: %v, want %s", got, ip)
	}
	if got := e.lookup(t, nginx); !slices.Equal(got, ip) {
		t.Errorf("Go resolver: %v, want %s", got, ip)
	}
}

func (e *stubDomain) zoneToRegion(t *testing.T) {
	setReady(t, e.f.admin["member-1"], "nginx", 0)
	t.Logf("remote after %v", e.expect(t, "member-2 through the region name", "192.0.2.2"))
	r := e.ask(t, nginx, dns.TypeA)
	checkChain(t, r, nginx, zoneNginx, regionNginx)
	if r.Authoritative || !r.RecursionAvailable {
		t.Errorf("chained answer AA %v RA %v, want RA only", r.Authoritative, r.RecursionAvailable)
	}
	if got := e.lookup(t, kubeNginx); !slices.Equal(got, []string{"192.0.2.2"}) {
		t.Errorf("Go resolver, kube-dns form: %v, want member-2", got)
	}
}

func (e *stubDomain) regionToGlobal(t *testing.T) {
	setReady(t, e.f.admin["member-2"], "nginx", 0)
	t.Logf("remote after %v", e.expect(t, "member-3 through the global name", "198.51.100.3"))
	checkChain(t, e.ask(t, nginx, dns.TypeA), nginx, zoneNginx, regionNginx, nginx)
	if got := e.lookup(t, nginx); !slices.Equal(got, []string{"198.51.100.3"}) {
		t.Errorf("Go resolver: %v, want member-3", got)
	}
}

func (e *stubDomain) upstreamDown(t *testing.T) {
	if err := syscall.Kill(e.auth.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(e.auth.Pid, syscall.SIGCONT)
		}
	}()
	// web runs in member-3 only, and has not been asked: nothing cached.
	start := time.Now()
	r := e.ask(t, webGlobal, dns.TypeA)
	took := time.Since(start)
	t.Logf("SERVFAIL after %v", took)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	// The shipped Corefile keeps the default timeouts: 750 ms per attempt,
	// 1.5 s per query, under CoreDNS forward's 2 s.
	if took > 1900*time.Millisecond {
		t.Errorf("SERVFAIL after %v, want within the resolver's 1.5 s total", took)
	}
	// With EDNS the reason comes through the cluster DNS: EDE 22.
	q := new(dns.Msg)
	q.SetQuestion(webGlobal, dns.TypeA)
	q.SetEdns0(1232, false)
	if r, err := dns.Exchange(q, e.cluster.DNS); err != nil || r.Rcode != dns.RcodeServerFailure || ede(r) != dns.ExtendedErrorCodeNoReachableAuthority {
		t.Errorf("EDNS query: %v %v, want SERVFAIL with EDE %d", r, err, dns.ExtendedErrorCodeNoReachableAuthority)
	}
	if got := e.addrs(t, nginx); !slices.Equal(got, []string{e.clusterIP}) {
		t.Errorf("local answer while the upstream is down: %v", got)
	}
	syscall.Kill(e.auth.Pid, syscall.SIGCONT)
	stopped = false
	e2eutil.Eventually(t, 10*time.Second, "web answered again", func() bool {
		return slices.Equal(e.addrs(t, webGlobal), []string{"198.51.100.3"})
	})
}

func (e *stubDomain) metrics(t *testing.T) {
	m := e.resolver.Scrape(t)
	for _, series := range []string{
		`coredns_meridian_resolver_answers_total{answer="local",namespace="default",service="nginx"}`,
		`coredns_meridian_resolver_answers_total{answer="remote",namespace="default",service="nginx"}`,
		`coredns_meridian_resolver_local_shard_healthy{namespace="default",service="nginx"} 1`,
		`coredns_meridian_resolver_upstream_errors_total `,
		`coredns_meridian_upstream_requests_total{result="timeout",server="` + e.auth.DNS + `"}`,
		`coredns_meridian_cluster_up{cluster="member-1",region="us-central1"} 1`,
	} {
		if !strings.Contains(m, series) {
			t.Errorf("resolver metrics lack %s", series)
		}
	}
	if strings.Contains(m, `cluster="member-2"`) {
		t.Error("the resolver reports member-2: it must watch its own cluster only")
	}
}

// ede returns the Extended DNS Error code of r, or 0xffff for none.
func ede(r *dns.Msg) uint16 {
	if code, ok := e2eutil.EDE(r); ok {
		return code
	}
	return 0xffff
}

// checkChain checks that r is a chain of CNAMEs through names (the first
// is the owner of the first CNAME) ending in A records.
func checkChain(t *testing.T, r *dns.Msg, names ...string) {
	t.Helper()
	if len(r.Answer) < len(names) {
		t.Fatalf("answer %v, want the chain %v", r.Answer, names)
	}
	for i := range len(names) - 1 {
		c, ok := r.Answer[i].(*dns.CNAME)
		if !ok || !strings.EqualFold(c.Hdr.Name, names[i]) || !strings.EqualFold(c.Target, names[i+1]) {
			t.Errorf("answer[%d] = %v, want CNAME %s -> %s", i, r.Answer[i], names[i], names[i+1])
		}
	}
	for _, rr := range r.Answer[len(names)-1:] {
		if _, ok := rr.(*dns.A); !ok || !strings.EqualFold(rr.Header().Name, names[len(names)-1]) {
			t.Errorf("after the chain: %v, want A records of %s", rr, names[len(names)-1])
		}
	}
}

// startResolver starts member-1's resolver from the Corefile that
// deploy/resolver/configmap.yaml put into member-1, with the values of its
// meridian-resolver-env set for this federation. Two differences from a
// pod, both forced by running outside one: `in_cluster` becomes a
// kubeconfig for member-1 holding a token of kube-system/coredns (the
// sidecar's ServiceAccount, given Nodes by deploy/resolver/rbac.yaml), and
// every address is a free loopback port.
func startResolver(t *testing.T, f *federation, dir, upstream string) *e2eutil.Server {
	t.Helper()
	ctx, c := context.Background(), f.admin["member-1"]
	e2eutil.Eventually(t, 30*time.Second, "namespace kube-system", func() bool {
		_, err := c.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		return err == nil
	})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"}}
	if _, err := c.CoreV1().ServiceAccounts("kube-system").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.apply(t, "member-1", "deploy/resolver/rbac.yaml")
	f.apply(t, "member-1", "deploy/resolver/configmap.yaml")
	cm, err := c.CoreV1().ConfigMaps("kube-system").Get(ctx, "meridian-resolver", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const inCluster = "in_cluster {$MERIDIAN_CLUSTER}"
	corefile := cm.Data["Corefile"]
	if !strings.Contains(corefile, inCluster) {
		t.Fatalf("the shipped Corefile has no %q:\n%s", inCluster, corefile)
	}
	kubeconfig := filepath.Join(dir, "resolver.kubeconfig")
	f.writeKubeconfigTokens(t, kubeconfig, map[string]string{"member-1": f.tokenOf(t, "member-1", "kube-system", "coredns")})
	corefile = strings.Replace(corefile, inCluster, "kubeconfig "+kubeconfig+" member-1", 1)

	return e2eutil.StartWith(t, e2eutil.Process{Env: func(p e2eutil.Ports) []string {
		return []string{
			"MERIDIAN_DOMAIN=example.com",
			"MERIDIAN_FEDERATION=myfed",
			"MERIDIAN_CLUSTER=member-1",
			"MERIDIAN_CLUSTER_DOMAIN=cluster.local",
			"MERIDIAN_UPSTREAMS=" + upstream,
			"MERIDIAN_BIND=127.0.0.1",
			fmt.Sprintf("MERIDIAN_PORT=%d", p.DNS),
			fmt.Sprintf("MERIDIAN_HEALTH=127.0.0.1:%d", p.Health),
			fmt.Sprintf("MERIDIAN_READY=127.0.0.1:%d", p.Ready),
			fmt.Sprintf("MERIDIAN_METRICS=127.0.0.1:%d", p.Metrics),
		}
	}}, func(e2eutil.Ports) string { return corefile })
}

// startClusterDNS starts stock CoreDNS as member-1's cluster DNS: a main
// block serving cluster.local from member-1's API server (kubernetes
// plugin), and deploy/resolver/stub-domain.Corefile as shipped, with one
// line added so that it listens on loopback only. Its variables are those
// the patches give the coredns container.
func startClusterDNS(t *testing.T, f *federation, dir, resolver string) *e2eutil.Server {
	t.Helper()
	stub := readRepo(t, "deploy/resolver/stub-domain.Corefile")
	open := strings.Index(stub, "{\n")
	if !strings.Contains(stub, "forward . {$MERIDIAN_RESOLVER}") || open < 0 {
		t.Fatalf("unexpected stub-domain.Corefile:\n%s", stub)
	}
	stub = stub[:open+2] + "    bind 127.0.0.1\n" + stub[open+2:]
	// The cluster DNS's own rights are not under test: it reads member-1
	// as the harness's admin.
	admin := f.kubecfg.AuthInfos[f.kubecfg.Contexts["member-1"].AuthInfo].Token
	kubeconfig := filepath.Join(dir, "coredns.kubeconfig")
	f.writeKubeconfigTokens(t, kubeconfig, map[string]string{"member-1": admin})
	s := e2eutil.StartWith(t, e2eutil.Process{
		Binary: e2eutil.CoreDNS(t),
		Args:   func(p e2eutil.Ports) []string { return []string{"-dns.port", fmt.Sprint(p.DNS)} },
		Env: func(e2eutil.Ports) []string {
			return []string{
				"MERIDIAN_DOMAIN=example.com",
				"MERIDIAN_FEDERATION=myfed",
				"MERIDIAN_CLUSTER_DOMAIN=cluster.local",
				"MERIDIAN_RESOLVER=" + resolver,
			}
		},
	}, func(p e2eutil.Ports) string {
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:%d
    kubernetes cluster.local {
        kubeconfig %s member-1
    }
}

%s`, p.DNS, p.Ready, kubeconfig, stub)
	})
	// The ready plugin can answer before the kubernetes plugin's first
	// sync lets the DNS servers start.
	e2eutil.Eventually(t, 30*time.Second, "cluster DNS serving", func() bool {
		_, err := s.Exchange("udp", "cluster.local.", dns.TypeSOA, "")
		return err == nil
	})
	return s
}

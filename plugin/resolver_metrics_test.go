package meridian

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/promtest"
	"github.com/meridian-dns/meridian/plugin/source"
)

// TestResolverMetrics: local and remote answers are counted per service,
// and the local shard's health is a gauge.
func TestResolverMetrics(t *testing.T) {
	m := newTestResolver(t, []string{serveAuthority(t)})
	m.cfg.ShardMetrics = true
	instances.add(m)
	t.Cleanup(func() { instances.remove(m) })
	count := func(answer string) float64 { return resolverCount(t, "default", "nginx", answer) }
	local0, remote0 := count("local"), count("remote")
	setLocal(m, 3, health.Up)
	ask(t, m, query(global, dns.TypeA, ""))
	setLocal(m, 0, health.Up)
	ask(t, m, query(global, dns.TypeA, ""))
	ask(t, m, query(kubeGlobal, dns.TypeA, ""))
	if l, r := count("local")-local0, count("remote")-remote0; l != 1 || r != 2 {
		t.Errorf("local %v remote %v, want 1 and 2", l, r)
	}
	want := `
# HELP coredns_meridian_resolver_local_shard_healthy Resolver role: 1 when the service is answered from the local cluster (shard healthy, cluster usable, cluster IP), else 0.
# TYPE coredns_meridian_resolver_local_shard_healthy gauge
coredns_meridian_resolver_local_shard_healthy{namespace="default",service="db"} 0
coredns_meridian_resolver_local_shard_healthy{namespace="default",service="echo"} 1
coredns_meridian_resolver_local_shard_healthy{namespace="default",service="nginx"} 0
`
	if err := testutil.CollectAndCompare(instances, strings.NewReader(want), "coredns_meridian_resolver_local_shard_healthy"); err != nil {
		t.Error(err)
	}
}

// resolverCount is the value of resolver_answers_total for a service and
// answer (local or remote), 0 when the series does not exist.
func resolverCount(t *testing.T, ns, svc, answer string) float64 {
	t.Helper()
	key := "coredns_meridian_resolver_answers_total{answer=" + answer + "}{namespace=" + ns + "}{service=" + svc + "}"
	return promtest.Values(t, prometheus.DefaultGatherer)[key]
}

// resolverSeries reports whether resolver_answers_total has a series for
// the service.
func resolverSeries(t *testing.T, ns, svc string) bool {
	t.Helper()
	key := "coredns_meridian_resolver_answers_total{answer=local}{namespace=" + ns + "}{service=" + svc + "}"
	_, ok := promtest.Values(t, prometheus.DefaultGatherer)[key]
	return ok
}

// TestResolverMetricsLifecycle: a service that leaves takes its series
// with it, and with shard_metrics off every service counts under an empty
// namespace and service.
func TestResolverMetricsLifecycle(t *testing.T) {
	m := newTestResolver(t, []string{serveAuthority(t)})
	objs := localObjects(3)
	gone := objs.Services[0]
	gone.Name = "leaving"
	objs.Services = append(objs.Services, gone)
	m.pipe.Sink().Update("us-central1-b", source.Fixed(objs))
	m.pipe.Rebuild()
	if !resolverSeries(t, "default", "leaving") {
		t.Fatal("no series for default/leaving while it runs")
	}
	setLocal(m, 3, health.Up) // without it
	if resolverSeries(t, "default", "leaving") {
		t.Error("series of default/leaving kept after it left")
	}

	off := newTestResolver(t, []string{serveAuthority(t)}, func(c *Config) {
		c.ShardMetrics = false
		c.Resolver.Cluster = "us-central1-b"
	})
	all0, own0 := resolverCount(t, "", "", "local"), resolverCount(t, "default", "echo", "local")
	ask(t, off, query("echo.default.myfed.svc.example.com.", dns.TypeA, ""))
	if all, own := resolverCount(t, "", "", "local")-all0, resolverCount(t, "default", "echo", "local")-own0; all != 1 || own != 0 {
		t.Errorf("shard_metrics off: counted %v under the empty service and %v under default/echo, want 1 and 0", all, own)
	}
}

package meridian

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/promtest"
)

// TestPartitionedTTL: while no member cluster is up (Meridian judges
// itself partitioned), answers come from the clusters' last state with the
// degraded TTL, and coredns_meridian_partitioned says 1; with one cluster
// up, the same whole service keeps the configured TTL.
func TestPartitionedTTL(t *testing.T) {
	shard := func(addr string) []fedShard {
		return []fedShard{{ns: "default", name: "web", addrs: []string{addr}, ready: 2, tot: 2}}
	}
	for _, tc := range []struct {
		name        string
		second      health.State
		ttl         uint32
		partitioned float64
	}{
		{"one cluster up", health.Up, defaultTTL, 0},
		{"none up: partitioned", health.Stale, defaultDegradedTTL, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newFederationPlugin(t, []fedCluster{
				{name: "eu", region: "europe-west1", zone: "europe-west1-b", state: health.Stale, shards: shard("198.51.100.1")},
				{name: "us", region: "us-central1", zone: "us-central1-a", state: tc.second, shards: shard("192.0.2.1")},
			})
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			m.ServeDNS(context.Background(), rec, query("web.default.myfed.svc.example.com.", dns.TypeA, "81.0.0.0/24"))
			if rec.Msg == nil || len(rec.Msg.Answer) != 1 {
				t.Fatalf("reply %v, want one A record", rec.Msg)
			}
			if a := rec.Msg.Answer[0]; a.Header().Ttl != tc.ttl || a.(*dns.A).A.String() != "198.51.100.1" {
				t.Errorf("answer %v, want eu's address (its last state) with TTL %d", a, tc.ttl)
			}
			instances.add(m)
			defer instances.remove(m)
			if got := gaugeOf(t, "coredns_meridian_partitioned"); got != tc.partitioned {
				t.Errorf("coredns_meridian_partitioned %v, want %v", got, tc.partitioned)
			}
		})
	}
}

// gaugeOf reads the value of the unlabelled gauge name from the plugin's
// instances.
func gaugeOf(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := instanceValues(t)[name]
	if !ok {
		t.Fatalf("no series %s", name)
	}
	return v
}

// instanceValues gathers the plugin's instances (promtest.Values).
func instanceValues(t *testing.T) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(instances)
	return promtest.Values(t, reg)
}

package kube

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestKubePartition runs Meridian against three real API servers and
// kills one, then the other two, then restores them (docs/health.md,
// "Partition sense"): one API server gone is that cluster down, its
// clients sent elsewhere; every API server gone is Meridian cut off, so
// past down_after the two lost last stay stale and answer from their last
// state at the degraded TTL, the one down before stays down, and
// coredns_meridian_partitioned is 1; one API server back ends it, and the
// one still gone is judged down by its own timer at once. nginx runs in all
// three (degraded once member-2 is down: the degraded TTL anyway); web in
// member-1 and member-3 only, whole until the partition, which alone
// gives it the degraded TTL.
func TestKubePartition(t *testing.T) {
	f := startFederation(t, 3)
	fed := map[string]string{fedLabel: "myfed"}
	for _, m := range members[:3] {
		c := f.admin[m.name]
		addNode(t, c, m)
		addService(t, c, m, "nginx", fed, 3)
		if m.name != "member-2" {
			addService(t, c, m, "web", fed, 3)
		}
	}
	const web = "web.default.myfed.svc.example.com."
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	f.writeKubeconfig(t, kubeconfig, "member-1", "member-2", "member-3")
	const downAfter = 6 * time.Second
	s := startMeridian(t, kubeconfig, "stale_after 2s", "down_after 6s", "startup_timeout 20s")

	ask := func(t *testing.T, name, subnet string) (addr string, ttl uint32) {
		t.Helper()
		r := s.Ask(t, "udp", name, dns.TypeA, subnet)
		if got := e2eutil.Addrs(r); len(got) == 1 {
			return got[0], r.Answer[0].Header().Ttl
		}
		return "", 0
	}
	state := func(t *testing.T, cluster, st string) bool {
		return s.HasMetric(t, `coredns_meridian_cluster_state{cluster="`+cluster+`",state="`+st+`"}`, "1")
	}
	partitioned := func(t *testing.T) bool { return s.HasMetric(t, "coredns_meridian_partitioned", "1") }
	expect := func(t *testing.T, what, name, subnet, want string, ttl uint32) {
		t.Helper()
		e2eutil.Eventually(t, 20*time.Second, what, func() bool {
			got, gotTTL := ask(t, name, subnet)
			return got == want && gotTTL == ttl
		})
	}
	expect(t, "paris answered from europe", nginx, paris, "198.51.100.2", 30)
	expect(t, "web whole", web, taipei, "203.0.113.3", 30)

	// One API server gone: that cluster is down, not a partition.
	f.kill(t, "member-2")
	e2eutil.Eventually(t, 20*time.Second, "member-2 down", func() bool { return state(t, "member-2", "down") })
	expect(t, "member-2 down: paris goes to us-central1, nginx degraded", nginx, paris, "192.0.2.1", 5)
	expect(t, "web still whole", web, taipei, "203.0.113.3", 30)
	if partitioned(t) {
		t.Fatal("partitioned with two clusters up")
	}

	// Every API server gone: Meridian is the one cut off.
	f.kill(t, "member-1")
	f.kill(t, "member-3")
	took := e2eutil.Eventually(t, 20*time.Second, "partitioned", func() bool { return partitioned(t) })
	t.Logf("partitioned %v after the last API servers died", took)
	time.Sleep(downAfter + 2*time.Second) // past down_after for member-1 and member-3
	for _, c := range []string{"member-1", "member-3"} {
		if !state(t, c, "stale") {
			t.Errorf("%s: not stale past down_after while partitioned", c)
		}
	}
	if !state(t, "member-2", "down") {
		t.Error("member-2, down before the partition, is no longer down")
	}
	for _, tc := range []struct{ name, subnet, want string }{
		{nginx, chi, "192.0.2.1"}, {nginx, taipei, "203.0.113.3"}, {nginx, paris, "192.0.2.1"},
		{web, chi, "192.0.2.1"}, {web, taipei, "203.0.113.3"},
	} {
		if got, ttl := ask(t, tc.name, tc.subnet); got != tc.want || ttl != 5 {
			t.Errorf("partitioned, %s for %s: %s TTL %d, want %s (the last state) at the degraded TTL 5", tc.name, tc.subnet, got, ttl, tc.want)
		}
	}
	if !strings.Contains(s.Out.String(), "partitioned: no member cluster is up") {
		t.Error("the partition was not logged")
	}

	// One back: the partition is over; member-3, silent for longer than
	// down_after, is down at once.
	f.restart(t, "member-1")
	e2eutil.Eventually(t, 30*time.Second, "partition over", func() bool { return !partitioned(t) && state(t, "member-1", "up") })
	e2eutil.Eventually(t, 10*time.Second, "member-3 down", func() bool { return state(t, "member-3", "down") })
	expect(t, "member-3 down: web for taipei goes to us-central1", web, taipei, "192.0.2.1", 5)

	f.restart(t, "member-2")
	f.restart(t, "member-3")
	e2eutil.Eventually(t, 30*time.Second, "all up", func() bool {
		return state(t, "member-2", "up") && state(t, "member-3", "up")
	})
	expect(t, "paris back on europe", nginx, paris, "198.51.100.2", 30)
	expect(t, "web for taipei back on asia", web, taipei, "203.0.113.3", 30)
}

package kube

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// BenchmarkConvergence measures the time from the API server acknowledging
// an EndpointSlice update to the first DNS answer that reflects it. Each
// op is one flip of member-3's nginx shard between ready and unready; the
// Taipei client's answer moves between member-3 and member-2. Run it with
// `make bench-kube` (100 flips); it reports p50, p99 and max.
func BenchmarkConvergence(b *testing.B) {
	f := startFederation(b, 3)
	fed := map[string]string{fedLabel: "myfed"}
	for _, m := range members[:3] {
		addNode(b, f.admin[m.name], m)
		addService(b, f.admin[m.name], m, "nginx", fed, 3)
	}
	kubeconfig := filepath.Join(b.TempDir(), "kubeconfig")
	f.writeKubeconfig(b, kubeconfig, "member-1", "member-2", "member-3")
	s := startMeridian(b, kubeconfig)
	c := f.admin["member-3"]
	ctx := context.Background()
	e, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "nginx-1", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	ready := true
	b.ResetTimer()
	for b.Loop() {
		ready = !ready
		want := "203.0.113.3"
		n := 3
		if !ready {
			want, n = "198.51.100.2", 0
		}
		e.Endpoints = slice("nginx", n).Endpoints
		e, err = c.DiscoveryV1().EndpointSlices("default").Update(ctx, e, metav1.UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		for {
			if r, err := s.Exchange("udp", nginx, dns.TypeA, taipei); err == nil {
				if got := e2eutil.Addrs(r); len(got) == 1 && got[0] == want {
					break
				}
			}
			if time.Since(acked) > 10*time.Second {
				b.Fatalf("flip %d: answer did not move to %s within 10s", len(lat), want)
			}
		}
		lat = append(lat, time.Since(acked))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}

package status

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// bigSnapshot builds a federation of 10 clusters and services×10
// shards; in one service of 100 the shard of cluster-00 has no ready
// endpoint.
func bigSnapshot(services int) *model.Snapshot {
	in := model.Inputs{Clusters: map[string]*model.Input{}, Serial: 7, Now: time.Now()}
	for c := range 10 {
		name := fmt.Sprintf("cluster-%02d", c)
		objs := source.Objects{Nodes: []*source.Node{{Name: "n", Region: "us-central1", Zone: "us-central1-a", Ready: true}}}
		for i := range services {
			ns, svc := fmt.Sprintf("ns-%d", i%50), fmt.Sprintf("svc-%06d", i)
			objs.Services = append(objs.Services, &source.Service{Namespace: ns, Name: svc,
				Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(c), byte(i >> 8), byte(i)})}})
			ready := 3
			if c == 0 && i%100 == 0 {
				ready = 0
			}
			objs.Endpoints = append(objs.Endpoints, &source.EndpointSlice{Namespace: ns, Name: svc + "-1", Service: svc, Ready: ready, Total: 3})
		}
		in.Clusters[name] = &model.Input{Objects: objs, State: health.Up}
	}
	return model.Build(in, nil, model.Options{Defaults: policy.Default()}).Snapshot
}

// BenchmarkStatusPage renders the first page of the status page, and a
// page filtered to the services that are not healthy, at 100,000 shards;
// index is the summary made once per snapshot.
func BenchmarkStatusPage(b *testing.B) {
	snap := bigSnapshot(10_000)
	ov := Overview{Federation: "bench", Zones: []string{"example.com."}, Role: "authoritative", Snapshot: snap, Now: time.Now()}
	for range health.DefaultHistory {
		ov.Transitions = append(ov.Transitions, health.Transition{At: time.Now(), Signal: "passive", What: "cluster-00/ns-0/svc-000000", From: "up", To: "down", Detail: "not ready for 750ms"})
	}
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			NewIndex(snap)
		}
	})
	ix := NewIndex(snap)
	if ix.Shards != 100_000 || ix.Count[Degraded] != 100 {
		b.Fatalf("%d shards, %d degraded services: not the federation meant", ix.Shards, ix.Count[Degraded])
	}
	for _, tc := range []struct {
		name string
		p    params
	}{
		{"first-page", params{page: 1}},
		{"last-page", params{page: 100}},
		{"unhealthy", params{page: 1, only: "unhealthy"}},
		{"filtered", params{page: 1, filter: "svc-0099"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := render(&buf, ov, ix, tc.p); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := render(io.Discard, ov, ix, tc.p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "page-bytes")
		})
	}
}

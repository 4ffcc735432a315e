package model

import (
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/sourcetest"
)

func TestBuildCluster(t *testing.T) {
	node := func(region, zone string, ready bool) *source.Node {
		return &source.Node{Name: "n", Region: region, Zone: zone, Ready: ready}
	}
	tests := []struct {
		name       string
		nodes      []*source.Node
		ov         Override
		wantRegion string
		wantZones  []string
		wantPoint  geo.Point
		located    bool
	}{
		{name: "majority region, zones of ready nodes",
			nodes: []*source.Node{node("asia-east1", "asia-east1-a", true), node("asia-east1", "asia-east1-b", true),
				node("us-central1", "us-central1-a", true), node("asia-east1", "asia-east1-c", false)},
			wantRegion: "asia-east1", wantZones: []string{"asia-east1-a", "asia-east1-b", "us-central1-a"}, located: true},
		{name: "unready nodes do not count",
			nodes:      []*source.Node{node("asia-east1", "asia-east1-a", false), node("us-central1", "us-central1-a", true)},
			wantRegion: "us-central1", wantZones: []string{"us-central1-a"}, located: true},
		{name: "tie goes to the lower name",
			nodes:      []*source.Node{node("us-east1", "", true), node("europe-west1", "", true)},
			wantRegion: "europe-west1", located: true},
		{name: "no labels: not located", nodes: []*source.Node{node("", "", true)}},
		{name: "unknown region: not located", nodes: []*source.Node{node("moon-1", "", true)}, wantRegion: "moon-1"},
		{name: "override region and zones",
			nodes: []*source.Node{node("asia-east1", "asia-east1-a", true)},
			ov:    Override{Region: "europe-west1", Zones: []string{"z2", "z1"}}, wantRegion: "europe-west1",
			wantZones: []string{"z1", "z2"}, located: true},
		{name: "override coordinates", nodes: []*source.Node{node("moon-1", "", true)},
			ov: Override{Point: geo.Point{Lat: 1, Lon: 2}, Located: true}, wantRegion: "moon-1",
			wantPoint: geo.Point{Lat: 1, Lon: 2}, located: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := buildCluster("c", &Input{Objects: source.Objects{Nodes: tc.nodes}}, tc.ov)
			if c.Region != tc.wantRegion || !reflect.DeepEqual(c.Zones, tc.wantZones) || c.Located != tc.located {
				t.Errorf("got region %q zones %v located %v, want %q %v %v", c.Region, c.Zones, c.Located, tc.wantRegion, tc.wantZones, tc.located)
			}
			if tc.wantPoint != (geo.Point{}) && c.Point != tc.wantPoint {
				t.Errorf("point %v, want %v", c.Point, tc.wantPoint)
			}
			if want, ok := geo.Region(tc.wantRegion); ok && tc.ov.Located == false && c.Point != want {
				t.Errorf("point %v, want the region table's %v", c.Point, want)
			}
		})
	}
}

func TestBuildShards(t *testing.T) {
	svc := func(addrs ...string) *source.Service {
		s := &source.Service{Namespace: "ns", Name: "web", Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}, {Protocol: "tcp", Port: 81}}}
		for _, a := range addrs {
			s.Addresses = append(s.Addresses, netip.MustParseAddr(a))
		}
		return s
	}
	slices := func(counts ...int) []*source.EndpointSlice {
		var out []*source.EndpointSlice
		for i := 0; i < len(counts); i += 2 {
			out = append(out, &source.EndpointSlice{Namespace: "ns", Name: "x", Service: "web", Ready: counts[i], Total: counts[i+1]})
		}
		return out
	}
	tests := []struct {
		name       string
		state      health.State
		svc        *source.Service
		eps        []*source.EndpointSlice
		minReady   int
		wantReady  int
		wantTotal  int
		wantUsable bool
		wantV4     int
		wantV6     int
	}{
		{"slices are summed", health.Up, svc("192.0.2.1"), slices(1, 2, 2, 3), 1, 3, 5, true, 1, 0},
		{"families split, 4in6 unmapped", health.Up, svc("::ffff:192.0.2.1", "2001:db8::1"), slices(1, 1), 1, 1, 1, true, 1, 1},
		{"no ready endpoints", health.Up, svc("192.0.2.1"), slices(0, 3), 1, 0, 3, false, 1, 0},
		{"below min ready", health.Up, svc("192.0.2.1"), slices(2, 3), 3, 2, 3, false, 1, 0},
		{"no address", health.Up, svc(), slices(3, 3), 1, 3, 3, false, 0, 0},
		{"cluster down", health.Down, svc("192.0.2.1"), slices(3, 3), 1, 3, 3, false, 1, 0},
		{"cluster stale", health.Stale, svc("192.0.2.1"), slices(3, 3), 1, 3, 3, true, 1, 0},
		{"no slices", health.Up, svc("192.0.2.1"), nil, 1, 0, 0, false, 1, 0},
		{"dual stack: families not summed", health.Up, svc("192.0.2.1"), []*source.EndpointSlice{
			{Namespace: "ns", Service: "web", AddressType: "IPv4", Ready: 2, Total: 3},
			{Namespace: "ns", Service: "web", AddressType: "IPv6", Ready: 2, Total: 3},
			{Namespace: "ns", Service: "web", AddressType: "IPv4", Ready: 1, Total: 1}}, 1, 3, 4, true, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]*Input{"c": {State: tc.state, Objects: source.Objects{Services: []*source.Service{tc.svc}, Endpoints: tc.eps}}}
			snap := Build(Inputs{Clusters: in, Serial: 7, Now: time.Unix(1, 0)}, nil, Options{Defaults: policy.Policy{MinReady: tc.minReady}}).Snapshot
			s := snap.Services[Key{"ns", "web"}]
			if s == nil || len(s.Shards) != 1 {
				t.Fatalf("service not built: %+v", snap.Services)
			}
			sh := s.Shards[0]
			if sh.Ready != tc.wantReady || sh.Total != tc.wantTotal || sh.Usable != tc.wantUsable || len(sh.V4) != tc.wantV4 || len(sh.V6) != tc.wantV6 {
				t.Errorf("shard ready %d/%d usable %v v4 %d v6 %d, want %d/%d %v %d %d",
					sh.Ready, sh.Total, sh.Usable, len(sh.V4), len(sh.V6), tc.wantReady, tc.wantTotal, tc.wantUsable, tc.wantV4, tc.wantV6)
			}
			if len(s.Ports) != 1 || s.Ports[0].Name != "http" {
				t.Errorf("named ports %v, want only http", s.Ports)
			}
			if snap.Serial != 7 {
				t.Errorf("serial %d, want 7", snap.Serial)
			}
		})
	}
}

func TestBuildRegions(t *testing.T) {
	in := map[string]*Input{
		"a": {Objects: source.Objects{Nodes: []*source.Node{{Region: "r1", Zone: "z2", Ready: true}}}},
		"b": {Objects: source.Objects{Nodes: []*source.Node{{Region: "r1", Zone: "z1", Ready: true}}}},
		"c": {Objects: source.Objects{Nodes: []*source.Node{{Region: "r2", Zone: "z3", Ready: true}}}},
	}
	snap := Build(Inputs{Clusters: in, Serial: 1}, nil, Options{}).Snapshot
	want := map[string][]string{"r1": {"z1", "z2"}, "r2": {"z3"}}
	if !reflect.DeepEqual(snap.Regions, want) {
		t.Errorf("regions %v, want %v", snap.Regions, want)
	}
	if !snap.HasZone("r1", "z1") || snap.HasZone("r2", "z1") || !snap.HasRegion("r2") || snap.HasRegion("r3") {
		t.Error("HasZone/HasRegion disagree with Regions")
	}
	if names := []string{snap.Clusters[0].Name, snap.Clusters[1].Name, snap.Clusters[2].Name}; !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("clusters not in name order: %v", names)
	}
}

// build is Build of in with no verdicts, serial 1, at time 1.
func build(in map[string]*Input, opts Options) *Snapshot {
	return Build(Inputs{Clusters: in, Serial: 1, Now: time.Unix(1, 0)}, nil, opts).Snapshot
}

// TestBuildIsPure builds twice from the same inputs with a real passive
// tracker as the verdicts: the inputs are left as they were, the tracker
// records nothing, and both builds are the same.
func TestBuildIsPure(t *testing.T) {
	objs := func() source.Objects {
		return source.Objects{
			Nodes: []*source.Node{{Name: "n", Region: "europe-west1", Zone: "europe-west1-b", Ready: true}},
			Services: []*source.Service{{Namespace: "ns", Name: "web", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
				Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}, Annotations: map[string]string{policy.AnnFall: "3"}}},
			Endpoints: []*source.EndpointSlice{{Namespace: "ns", Name: "web-1", Service: "web", AddressType: "IPv4", Ready: 1, Total: 2}},
		}
	}
	in := Inputs{Clusters: map[string]*Input{"c": {Objects: objs(), State: health.Up}}, Serial: 3, Now: time.Unix(5, 0)}
	p := health.NewPassive(health.PassiveConfig{})
	v := passiveOnly{p}
	first := Build(in, v, Options{Defaults: policy.Default()})
	second := Build(in, v, Options{Defaults: policy.Default()})
	if !reflect.DeepEqual(in.Clusters["c"].Objects, objs()) {
		t.Errorf("Build changed its inputs: %+v", in.Clusters["c"].Objects)
	}
	if n := p.Len(); n != 0 {
		t.Errorf("the tracker remembers %d shards after Build, want 0: Build must not record", n)
	}
	if !reflect.DeepEqual(first.Snapshot, second.Snapshot) || len(first.Passive) != 1 {
		t.Errorf("two builds of the same inputs differ, or %d observations, want 1", len(first.Passive))
	}
	p.Record(first.Passive)
	if n := p.Len(); n != 1 {
		t.Errorf("the tracker remembers %d shards after Record, want 1", n)
	}
}

// passiveOnly is Verdicts from a passive tracker, with no probes.
type passiveOnly struct{ p *health.Passive }

func (v passiveOnly) Passive(k health.Key, h health.Handle, ok bool, rise, fall int) health.Observation {
	return v.p.JudgeAt(k, h, ok, rise, fall)
}

func (passiveOnly) Probe(health.TargetKey) bool { return true }

// TestBuildSharesAddresses checks that a build given the snapshot before
// it shares the addresses of shards built from the same Service objects,
// converts those of a changed object anew, and answers the same.
func TestBuildSharesAddresses(t *testing.T) {
	web := &source.Service{Namespace: "ns", Name: "web", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")},
		Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}}
	api := &source.Service{Namespace: "ns", Name: "api", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.2")},
		Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}}
	objs := func(svcs ...*source.Service) map[string]*Input {
		return map[string]*Input{"c": {Objects: source.Objects{Services: svcs}}}
	}
	first := Build(Inputs{Clusters: objs(web, api)}, nil, Options{Defaults: policy.Default()}).Snapshot
	api2 := *api
	api2.Addresses = []netip.Addr{netip.MustParseAddr("192.0.2.3")}
	second := Build(Inputs{Clusters: objs(web, &api2), Prev: first}, nil, Options{Defaults: policy.Default()}).Snapshot
	shard := func(s *Snapshot, name string) *Shard { return s.Services[Key{"ns", name}].Shards[0] }
	if a, b := shard(first, "web"), shard(second, "web"); &a.IP4[0] != &b.IP4[0] || &a.V6[0] != &b.V6[0] {
		t.Error("web's addresses converted again although its Service object is the same")
	}
	if got := shard(second, "api").IP4[0].String(); got != "192.0.2.3" {
		t.Errorf("api's changed address %s, want 192.0.2.3", got)
	}
	if got := shard(first, "api").IP4[0].String(); got != "192.0.2.2" {
		t.Errorf("the first snapshot changed: api %s, want 192.0.2.2", got)
	}
}

// BenchmarkBuild100k builds a snapshot of 10 clusters of 10,000 services
// each: fresh; from the one before it with nothing changed (a resync, a
// verdict that did not move); and from the one before it after one
// Service object changed, as the loop does after most changes.
func BenchmarkBuild100k(b *testing.B) {
	in := Inputs{Clusters: map[string]*Input{}}
	for c := range 10 {
		in.Clusters["cluster-"+strconv.Itoa(c)] = &Input{Objects: sourcetest.Cluster(c, 10_000), State: health.Up}
	}
	opts := Options{Defaults: policy.Default()}
	benchBuild(b, &in, opts)
	b.Run("one-change", func(b *testing.B) {
		in.Prev = Build(in, nil, opts).Snapshot
		c := in.Clusters["cluster-3"]
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			cp := *c
			cp.Objects.Services = slices.Clone(c.Objects.Services)
			s := *cp.Objects.Services[i%10_000]
			cp.Objects.Services[i%10_000] = &s
			in.Clusters["cluster-3"] = &cp
			b.StartTimer()
			in.Prev = Build(in, nil, opts).Snapshot
		}
	})
}

// BenchmarkBuildHosts builds a snapshot of 10 clusters of 5,000 services
// and 5,000 Ingress hosts with two backends each (issue 12's scale): fresh;
// from the one before with nothing changed; and after one cluster's
// EndpointSlice list changed (one slice anew), which recounts the backends
// of that cluster's hosts.
func BenchmarkBuildHosts(b *testing.B) {
	in := Inputs{Clusters: map[string]*Input{}}
	for c := range 10 {
		objs := sourcetest.Cluster(c, 5_000)
		objs.Ingresses = sourcetest.Ingresses(c, 5_000, 5_000)
		in.Clusters["cluster-"+strconv.Itoa(c)] = &Input{Objects: objs, State: health.Up}
	}
	opts := Options{Defaults: policy.Default(), Zones: []string{"example.com."}}
	if snap := Build(in, nil, opts).Snapshot; len(snap.Hosts) != 5_000 || len(snap.Hosts["host-7.example.com."].Shards) != 10 {
		b.Fatalf("%d hosts", len(snap.Hosts))
	}
	benchBuild(b, &in, opts)
	b.Run("one-slice", func(b *testing.B) {
		in.Prev = Build(in, nil, opts).Snapshot
		c := in.Clusters["cluster-3"]
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			cp := *c
			cp.Objects.Endpoints = slices.Clone(c.Objects.Endpoints)
			e := *cp.Objects.Endpoints[i%5_000]
			e.Ready = i % 4
			cp.Objects.Endpoints[i%5_000] = &e
			in.Clusters["cluster-3"] = &cp
			b.StartTimer()
			in.Prev = Build(in, nil, opts).Snapshot
		}
	})
}

// benchBuild runs the sub-benchmarks "fresh" (a build with no snapshot
// before) and "from-prev" (from the snapshot before, nothing changed) of
// in; in.Prev is the last build's snapshot afterwards.
func benchBuild(b *testing.B, in *Inputs, opts Options) {
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		fresh := *in
		fresh.Prev = nil
		for b.Loop() {
			Build(fresh, nil, opts)
		}
	})
	b.Run("from-prev", func(b *testing.B) {
		in.Prev = Build(*in, nil, opts).Snapshot
		b.ReportAllocs()
		for b.Loop() {
			in.Prev = Build(*in, nil, opts).Snapshot
		}
	})
}

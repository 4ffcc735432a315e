package answer

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// shardSpec is one cluster of a test federation running one service.
type shardSpec struct {
	cluster, region, zone string
	addrs                 []string
	hostname              string
	ready                 int
	state                 health.State
}

// federation builds a snapshot with service default/nginx in every cluster
// of specs, through model.Build as the store does.
func federation(t testing.TB, specs ...shardSpec) *model.Snapshot {
	t.Helper()
	in := map[string]*model.Input{}
	for _, s := range specs {
		svc := &source.Service{Namespace: "default", Name: "nginx",
			Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}}
		for _, a := range s.addrs {
			svc.Addresses = append(svc.Addresses, netip.MustParseAddr(a))
		}
		if s.hostname != "" {
			svc.Hostnames = []string{s.hostname}
		}
		in[s.cluster] = &model.Input{State: s.state, Objects: source.Objects{
			Nodes:     []*source.Node{{Name: "n1", Region: s.region, Zone: s.zone, Ready: true}},
			Services:  []*source.Service{svc},
			Endpoints: []*source.EndpointSlice{{Namespace: "default", Name: "nginx-1", Service: "nginx", Ready: s.ready, Total: 3}},
		}}
	}
	return model.Build(model.Inputs{Clusters: in, Serial: 1, Now: time.Unix(0, 0)}, nil, model.Options{Defaults: policy.Default()}).Snapshot
}

func demo(t testing.TB, unready ...string) *model.Snapshot {
	specs := []shardSpec{
		{"us-central1-a", "us-central1", "us-central1-a", []string{"192.0.2.11"}, "", 3, health.Up},
		{"us-central1-b", "us-central1", "us-central1-b", []string{"192.0.2.12"}, "", 3, health.Up},
		{"us-central1-c", "us-central1", "us-central1-c", []string{"192.0.2.13"}, "", 3, health.Up},
		{"europe-west1-b", "europe-west1", "europe-west1-b", []string{"198.51.100.11"}, "", 3, health.Up},
		{"asia-east1-a", "asia-east1", "asia-east1-a", []string{"203.0.113.11", "2001:db8:3::11"}, "", 3, health.Up},
		{"asia-east1-b", "asia-east1", "asia-east1-b", []string{"203.0.113.12"}, "", 3, health.Up},
	}
	for i := range specs {
		for _, u := range unready {
			if specs[i].cluster == u {
				specs[i].ready = 0
			}
		}
	}
	return federation(t, specs...)
}

var (
	taipei  = geo.Location{Known: true, Point: geo.Point{Lat: 25.03, Lon: 121.56}, Scope: 16, Net: netip.MustParsePrefix("27.0.0.0/16")}
	chicago = geo.Location{Known: true, Point: geo.Point{Lat: 41.88, Lon: -87.63}, Scope: 16, Net: netip.MustParsePrefix("24.0.0.0/16")}
	paris   = geo.Location{Known: true, Point: geo.Point{Lat: 48.86, Lon: 2.35}, Scope: 16, Net: netip.MustParsePrefix("81.0.0.0/16")}
	nowhere = geo.Location{Scope: 8, Net: netip.MustParsePrefix("10.0.0.0/8")}
)

func clusters(res Result) []string {
	var out []string
	for _, sh := range res.Shards {
		out = append(out, sh.Cluster.Name)
	}
	return out
}

func TestChooseGlobal(t *testing.T) {
	all := []string{"asia-east1-a", "asia-east1-b"}
	tests := []struct {
		name      string
		snap      *model.Snapshot
		fam       Family
		loc       geo.Location
		shards    int
		regions   []string
		want      []string // nil: any one cluster of wantIn
		wantIn    []string
		failOpen  bool
		dependent bool
	}{
		{name: "asia client gets asia", snap: demo(t), fam: V4, loc: taipei, wantIn: all, dependent: true},
		{name: "us client gets us", snap: demo(t), fam: V4, loc: chicago,
			wantIn: []string{"us-central1-a", "us-central1-b", "us-central1-c"}, dependent: true},
		{name: "europe client gets europe", snap: demo(t), fam: V4, loc: paris, want: []string{"europe-west1-b"}, dependent: true},
		{name: "asia unready: next closest", snap: demo(t, "asia-east1-a", "asia-east1-b"), fam: V4, loc: taipei,
			want: []string{"europe-west1-b"}, dependent: true}, // Taipei-Belgium 9,700 km, Taipei-Iowa 12,000 km
		{name: "only asia-east1-a has IPv6", snap: demo(t), fam: V6, loc: chicago, want: []string{"asia-east1-a"}},
		{name: "unknown client: default regions", snap: demo(t), fam: V4, loc: nowhere,
			regions: []string{"europe-west1", "us-central1"}, want: []string{"europe-west1-b"}, dependent: true},
		{name: "unknown client: first cluster", snap: demo(t), fam: V4, loc: nowhere, want: []string{"asia-east1-a"}, dependent: true},
		{name: "two shards", snap: demo(t), fam: V4, loc: paris, shards: 2, dependent: true,
			wantIn: []string{"europe-west1-b", "us-central1-a", "us-central1-b", "us-central1-c"}},
		{name: "fail open to every shard", fam: V4, loc: paris, failOpen: true, dependent: true,
			snap: demo(t, "us-central1-a", "us-central1-b", "us-central1-c", "europe-west1-b", "asia-east1-a", "asia-east1-b")},
		{name: "down cluster is skipped", fam: V4, loc: paris, want: []string{"b"}, snap: federation(t,
			shardSpec{"a", "europe-west1", "z", []string{"192.0.2.1"}, "", 3, health.Down},
			shardSpec{"b", "asia-east1", "z", []string{"192.0.2.2"}, "", 3, health.Up})},
		{name: "stale cluster is used", fam: V4, loc: paris, want: []string{"a"}, dependent: true, snap: federation(t,
			shardSpec{"a", "europe-west1", "z", []string{"192.0.2.1"}, "", 3, health.Stale},
			shardSpec{"b", "asia-east1", "z", []string{"192.0.2.2"}, "", 3, health.Up})},
		{name: "no address is never named", fam: V4, loc: paris, want: []string{"b"}, snap: federation(t,
			shardSpec{"a", "europe-west1", "z", nil, "", 3, health.Up},
			shardSpec{"b", "asia-east1", "z", []string{"192.0.2.2"}, "", 3, health.Up})},
		{name: "hostname-only shard is no A answer", fam: V4, loc: paris, want: []string{"b"}, snap: federation(t,
			shardSpec{"a", "europe-west1", "z", nil, "lb.example.net.", 3, health.Up},
			shardSpec{"b", "asia-east1", "z", []string{"192.0.2.2"}, "", 3, health.Up})},
		{name: "hostname-only shard is a candidate of any family", fam: Any, loc: paris, want: []string{"a"}, dependent: true, snap: federation(t,
			shardSpec{"a", "europe-west1", "z", nil, "lb.example.net.", 3, health.Up},
			shardSpec{"b", "asia-east1", "z", []string{"192.0.2.2"}, "", 3, health.Up})},
		{name: "unlocated cluster sorts last", fam: V4, loc: paris, want: []string{"b"}, dependent: true, snap: federation(t,
			shardSpec{"a", "", "", []string{"192.0.2.1"}, "", 3, health.Up},
			shardSpec{"b", "asia-east1", "z", []string{"192.0.2.2"}, "", 3, health.Up})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := tc.snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
			svc.Policy.Shards = tc.shards
			res := Choose(svc, Query{Level: Global, Family: tc.fam, Loc: tc.loc}, Options{DefaultRegions: tc.regions}, nil)
			got := clusters(res)
			if res.FailOpen != tc.failOpen || res.Dependent != tc.dependent || res.Up {
				t.Errorf("flags: failOpen %v dependent %v up %v, want %v %v false", res.FailOpen, res.Dependent, res.Up, tc.failOpen, tc.dependent)
			}
			switch {
			case tc.failOpen:
				if len(got) != len(svc.Shards) {
					t.Errorf("fail open named %v, want all %d shards", got, len(svc.Shards))
				}
			case tc.want != nil:
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			default:
				wantN := max(tc.shards, 1)
				if len(got) != wantN || !subset(got, tc.wantIn) {
					t.Errorf("got %v, want %d of %v", got, wantN, tc.wantIn)
				}
			}
		})
	}
}

func TestChooseLevels(t *testing.T) {
	snap := demo(t, "us-central1-b")
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	tests := []struct {
		name         string
		lvl          Level
		region, zone string
		want         []string
		up           bool
	}{
		{"region holds every usable shard", Region, "us-central1", "", []string{"us-central1-a", "us-central1-c"}, false},
		{"zone with a usable shard", Zone, "us-central1", "us-central1-a", []string{"us-central1-a"}, false},
		{"zone without one goes up", Zone, "us-central1", "us-central1-b", nil, true},
		{"region without shards goes up", Region, "europe-west2", "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Choose(svc, Query{Level: tc.lvl, Region: tc.region, Zone: tc.zone, Family: V4, Loc: chicago}, Options{}, nil)
			if got := clusters(res); !slices.Equal(got, tc.want) || res.Up != tc.up || res.Dependent {
				t.Errorf("got %v up %v dependent %v, want %v up %v", got, res.Up, res.Dependent, tc.want, tc.up)
			}
		})
	}
}

// TestChooseSpreadsTies checks that client networks spread across equally
// close clusters, and that one network always gets the same one.
func TestChooseSpreadsTies(t *testing.T) {
	snap := demo(t)
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	counts := map[string]int{}
	for i := range 3000 {
		loc := chicago
		loc.Net = netip.PrefixFrom(netip.AddrFrom4([4]byte{24, byte(i >> 8), byte(i), 0}), 24)
		q := Query{Level: Global, Family: V4, Loc: loc, Rand: uint64(i), Seq: uint64(i)}
		first := clusters(Choose(svc, q, Options{}, nil))[0]
		q.Rand, q.Seq = ^q.Rand, q.Seq+1 // closest does not depend on them
		again := clusters(Choose(svc, q, Options{}, nil))[0]
		if first != again {
			t.Fatalf("network %v got %s then %s", loc.Net, first, again)
		}
		counts[first]++
	}
	for _, c := range []string{"us-central1-a", "us-central1-b", "us-central1-c"} {
		if n := counts[c]; n < 800 || n > 1200 {
			t.Errorf("cluster %s got %d of 3000 networks, want 1000 +- 200 (%v)", c, n, counts)
		}
	}
}

func TestFind(t *testing.T) {
	snap := demo(t)
	tests := []struct {
		qname string
		want  bool
	}{
		{"example.com.", true},
		{"svc.example.com.", true},
		{"myfed.svc.example.com.", true},
		{"default.myfed.svc.example.com.", true},
		{"kube-system.myfed.svc.example.com.", false},
		{"nginx.default.myfed.svc.example.com.", true},
		{"nope.default.myfed.svc.example.com.", false},
		{"_tcp.nginx.default.myfed.svc.example.com.", true},
		{"_udp.nginx.default.myfed.svc.example.com.", false},
		{"_http._tcp.nginx.default.myfed.svc.example.com.", true},
		{"_https._tcp.nginx.default.myfed.svc.example.com.", false},
		{"us-central1.example.com.", true},
		{"mars-1.example.com.", false},
		{"us-central1-a.us-central1.example.com.", true},
		{"europe-west1-b.us-central1.example.com.", false},
		{"nginx.default.myfed.svc.asia-east1.example.com.", true},
		{"nginx.default.myfed.svc.mars-1.example.com.", false},
		{"nginx.default.myfed.svc.asia-east1-b.asia-east1.example.com.", true},
	}
	for _, tc := range tests {
		t.Run(tc.qname, func(t *testing.T) {
			nm := Parse(tc.qname, "example.com.", "myfed")
			svc, got := Find(snap, nm)
			if got != tc.want {
				t.Errorf("Find exists = %v, want %v", got, tc.want)
			}
			if want := Lookup(snap, nm); got && svc != want {
				t.Errorf("Find service = %v, want %v (Lookup)", svc, want)
			}
		})
	}
}

func TestChooseAllocs(t *testing.T) {
	snap := demo(t)
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	var buf [8]*model.Shard
	q := Query{Level: Global, Family: V4, Loc: taipei}
	n := testing.AllocsPerRun(100, func() { Choose(svc, q, Options{}, buf[:0]) })
	if n != 0 {
		t.Errorf("Choose allocates %v times, want 0", n)
	}
}

func BenchmarkChoose(b *testing.B) {
	snap := demo(b)
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	var buf [8]*model.Shard
	q := Query{Level: Global, Family: V4, Loc: taipei}
	b.ReportAllocs()
	for b.Loop() {
		Choose(svc, q, Options{}, buf[:0])
	}
}

func subset(a, of []string) bool {
	for _, x := range a {
		found := false
		for _, y := range of {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

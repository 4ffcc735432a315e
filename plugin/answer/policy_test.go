package answer

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"testing"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// The clusters of demo, in name order.
var demoNames = []string{"asia-east1-a", "asia-east1-b", "europe-west1-b", "us-central1-a", "us-central1-b", "us-central1-c"}

// service returns demo's service with policy p, the unready clusters not
// usable and the degraded ones degraded.
func service(t testing.TB, p policy.Policy, unready, degraded []string) *model.Service {
	t.Helper()
	svc := demo(t, unready...).Services[model.Key{Namespace: "default", Name: "nginx"}]
	svc.Policy = p
	for _, sh := range svc.Shards {
		for _, d := range degraded {
			if sh.Cluster.Name == d {
				sh.Degraded = true
			}
		}
	}
	return svc
}

// elsewhere are clients in many places and networks, to find out whether
// an answer depends on where the client is.
var elsewhere = func() []geo.Location {
	locs := []geo.Location{nowhere}
	for _, base := range []geo.Location{taipei, chicago, paris} {
		for i := range 8 {
			loc := base
			a := base.Net.Addr().As4()
			loc.Net = netip.PrefixFrom(netip.AddrFrom4([4]byte{a[0], byte(i * 29), 0, 0}), 16)
			locs = append(locs, loc)
		}
	}
	return locs
}()

// varies reports whether some client elsewhere gets another answer than
// the one q gets, with the same Rand and Seq.
func varies(svc *model.Service, q Query, o Options) bool {
	want := clusters(Choose(svc, q, o, nil))
	for _, loc := range elsewhere {
		q.Loc = loc
		if !slices.Equal(clusters(Choose(svc, q, o, nil)), want) {
			return true
		}
	}
	return false
}

// match reports whether got matches the path.Match patterns of want, one
// for one.
func match(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if ok, _ := path.Match(want[i], got[i]); !ok {
			return false
		}
	}
	return true
}

func TestChoosePolicies(t *testing.T) {
	var (
		closest  = policy.Closest
		failover = func(n int, list ...string) policy.Policy {
			return policy.Policy{Kind: policy.Failover, Shards: n, Failover: list}
		}
		weighted = func(n int, ws ...policy.Weight) policy.Policy {
			return policy.Policy{Kind: policy.Weighted, Shards: n, Weights: ws}
		}
		roundrobin = policy.Policy{Kind: policy.RoundRobin}
		all        = demoNames
		us         = "us-central1-?"
		asia       = "asia-east1-?"
	)
	tests := []struct {
		name              string
		pol               policy.Policy
		lvl               Level
		region, zone      string
		fam               Family // V4 unless set
		loc               geo.Location
		rand, seq         uint64
		unready, degraded []string
		want              []string // path.Match patterns, one per shard
		kind              policy.Kind
		up, failOpen      bool
		spilled           bool
		dependent         bool
	}{
		{name: "closest", loc: paris, want: []string{"europe-west1-b"}, dependent: true},
		{name: "closest, shards 0 means 1", pol: policy.Policy{Shards: 0}, loc: taipei, want: []string{asia}, dependent: true},
		{name: "closest, two shards", pol: policy.Policy{Shards: 2}, loc: paris, want: []string{"europe-west1-b", us}, dependent: true},
		{name: "closest, more shards than candidates", pol: policy.Policy{Shards: 64}, loc: paris,
			want: []string{"europe-west1-b", us, us, us, asia, asia}, dependent: true},
		{name: "closest, one candidate", fam: V6, loc: paris, want: []string{"asia-east1-a"}},
		{name: "closest region", lvl: Region, region: "us-central1", loc: paris,
			want: []string{"us-central1-a", "us-central1-b", "us-central1-c"}},
		{name: "closest zone", lvl: Zone, region: "us-central1", zone: "us-central1-b", loc: paris, want: []string{"us-central1-b"}},
		{name: "closest zone, none usable", lvl: Zone, region: "us-central1", zone: "us-central1-b", unready: []string{"us-central1-b"},
			loc: paris, up: true},
		{name: "spill", pol: policy.Policy{Spill: 1}, loc: paris, degraded: []string{"europe-west1-b"},
			want: []string{us}, spilled: true, dependent: true},
		{name: "spill, two shards", pol: policy.Policy{Shards: 2, Spill: 1}, loc: paris, degraded: []string{"europe-west1-b"},
			want: []string{us, "europe-west1-b"}, spilled: true, dependent: true},
		{name: "no spill when the closest is not degraded", pol: policy.Policy{Spill: 1}, loc: paris,
			degraded: []string{"us-central1-a", "us-central1-b", "us-central1-c"}, want: []string{"europe-west1-b"}, dependent: true},
		{name: "no spill with one candidate", pol: policy.Policy{Spill: 1}, fam: V6, loc: paris, degraded: []string{"asia-east1-a"},
			want: []string{"asia-east1-a"}},
		{name: "no spill at the region level", pol: policy.Policy{Spill: 1}, lvl: Region, region: "us-central1", loc: chicago,
			degraded: []string{"us-central1-a"}, want: []string{"us-central1-a", "us-central1-b", "us-central1-c"}},

		{name: "failover", pol: failover(1, "europe-west1-b", "asia-east1-a"), loc: taipei,
			want: []string{"europe-west1-b"}, kind: policy.Failover},
		{name: "failover, two shards", pol: failover(2, "europe-west1-b", "asia-east1-a"), loc: taipei,
			want: []string{"europe-west1-b", "asia-east1-a"}, kind: policy.Failover},
		{name: "failover, three shards reach the unlisted", pol: failover(3, "europe-west1-b", "asia-east1-a"), loc: taipei,
			want: []string{"europe-west1-b", "asia-east1-a", "asia-east1-b"}, kind: policy.Failover, dependent: true},
		{name: "failover, first entry unusable", pol: failover(1, "europe-west1-b", "asia-east1-a"), loc: paris,
			unready: []string{"europe-west1-b"}, want: []string{"asia-east1-a"}, kind: policy.Failover},
		{name: "failover, region entry", pol: failover(1, "us-central1", "europe-west1-b"), loc: paris,
			want: []string{us}, kind: policy.Failover, dependent: true},
		{name: "failover, region entry then cluster", pol: failover(4, "us-central1", "europe-west1-b"), loc: taipei,
			want: []string{us, us, us, "europe-west1-b"}, kind: policy.Failover, dependent: true},
		{name: "failover, cluster before its region", pol: failover(1, "us-central1-c", "us-central1"), loc: paris,
			want: []string{"us-central1-c"}, kind: policy.Failover},
		{name: "failover, cluster before its region, two shards", pol: failover(2, "us-central1-c", "us-central1"), loc: paris,
			want: []string{"us-central1-c", "us-central1-[ab]"}, kind: policy.Failover, dependent: true},
		{name: "failover, only unlisted usable", pol: failover(1, "europe-west1-b"), loc: taipei, unready: []string{"europe-west1-b"},
			want: []string{asia}, kind: policy.Failover, dependent: true},
		{name: "failover, nothing listed exists", pol: failover(1, "mars-1"), loc: paris,
			want: []string{"europe-west1-b"}, kind: policy.Failover, dependent: true},
		{name: "failover, no list is closest", pol: failover(1), loc: paris, want: []string{"europe-west1-b"}, dependent: true},
		{name: "failover region level", pol: failover(3, "us-central1-c", "us-central1-a"), lvl: Region, region: "us-central1",
			loc: paris, want: []string{"us-central1-c", "us-central1-a", "us-central1-b"}, kind: policy.Failover},
		{name: "failover region level, unlisted in name order", pol: failover(3, "us-central1-b"), lvl: Region, region: "us-central1",
			loc: paris, want: []string{"us-central1-b", "us-central1-a", "us-central1-c"}, kind: policy.Failover},
		{name: "failover region level, first unusable", pol: failover(1, "us-central1-c", "us-central1-a"), lvl: Region,
			region: "us-central1", unready: []string{"us-central1-c"}, loc: paris, want: []string{"us-central1-a"}, kind: policy.Failover},
		{name: "failover zone level", pol: failover(2, "europe-west1-b"), lvl: Zone, region: "us-central1", zone: "us-central1-b",
			loc: paris, want: []string{"us-central1-b"}, kind: policy.Failover},

		{name: "weighted, one weighted cluster", pol: weighted(1, policy.Weight{Cluster: "asia-east1-a", Weight: 1},
			policy.Weight{Cluster: "europe-west1-b"}), loc: paris, want: []string{"asia-east1-a"}, kind: policy.Weighted},
		{name: "weighted, two shards", pol: weighted(2, policy.Weight{Cluster: "asia-east1-a", Weight: 1},
			policy.Weight{Cluster: "asia-east1-b", Weight: 1}), loc: paris, rand: 7, want: []string{asia, asia}, kind: policy.Weighted},
		{name: "weighted without weights is closest", pol: weighted(1), loc: paris, want: []string{"europe-west1-b"},
			kind: closest, dependent: true},
		{name: "weighted, weighted cluster unusable: closest", pol: weighted(1, policy.Weight{Cluster: "europe-west1-b", Weight: 1}),
			loc: paris, unready: []string{"europe-west1-b"}, want: []string{us}, kind: closest, dependent: true},
		{name: "weighted region level", pol: weighted(1, policy.Weight{Cluster: "us-central1-b", Weight: 5},
			policy.Weight{Cluster: "europe-west1-b", Weight: 5}), lvl: Region, region: "us-central1", loc: paris,
			want: []string{"us-central1-b"}, kind: policy.Weighted},
		{name: "weighted region level, none weighted: closest", pol: weighted(1, policy.Weight{Cluster: "europe-west1-b", Weight: 5}),
			lvl: Region, region: "us-central1", loc: paris, want: []string{"us-central1-a", "us-central1-b", "us-central1-c"}, kind: closest},

		{name: "roundrobin", pol: roundrobin, loc: paris, want: []string{"asia-east1-a"}, kind: policy.RoundRobin},
		{name: "roundrobin seq 7", pol: roundrobin, loc: paris, seq: 7, want: []string{"asia-east1-b"}, kind: policy.RoundRobin},
		{name: "roundrobin, two shards wrap", pol: policy.Policy{Kind: policy.RoundRobin, Shards: 2}, loc: paris, seq: 5,
			want: []string{"us-central1-c", "asia-east1-a"}, kind: policy.RoundRobin},
		{name: "roundrobin region level", pol: policy.Policy{Kind: policy.RoundRobin, Shards: 2}, lvl: Region, region: "us-central1",
			loc: paris, seq: 4, want: []string{"us-central1-b", "us-central1-c"}, kind: policy.RoundRobin},
		{name: "roundrobin skips unusable", pol: roundrobin, loc: paris, seq: 2, unready: []string{"asia-east1-b"},
			want: []string{"us-central1-a"}, kind: policy.RoundRobin},

		{name: "fail-open ignores failover", pol: failover(1, "europe-west1-b"), loc: paris, unready: all,
			want: []string{"europe-west1-b", us, us, us, asia, asia}, kind: closest, failOpen: true, dependent: true},
		{name: "fail-open ignores weighted", pol: weighted(1, policy.Weight{Cluster: "asia-east1-a", Weight: 1}), loc: paris,
			unready: all, want: []string{"europe-west1-b", us, us, us, asia, asia}, kind: closest, failOpen: true, dependent: true},
		{name: "fail-open ignores roundrobin", pol: roundrobin, loc: paris, unready: all,
			want: []string{"europe-west1-b", us, us, us, asia, asia}, kind: closest, failOpen: true, dependent: true},
		{name: "fail-open, one shard", pol: roundrobin, fam: V6, loc: paris, unready: all,
			want: []string{"asia-east1-a"}, kind: closest, failOpen: true},
		{name: "region level does not fail open", pol: roundrobin, lvl: Region, region: "us-central1", loc: paris, unready: all,
			up: true, kind: policy.RoundRobin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := service(t, tc.pol, tc.unready, tc.degraded)
			q := Query{Level: tc.lvl, Region: tc.region, Zone: tc.zone, Family: tc.fam, Loc: tc.loc, Rand: tc.rand, Seq: tc.seq}
			if q.Family == Any {
				q.Family = V4
			}
			res := Choose(svc, q, Options{}, nil)
			if got := clusters(res); !match(got, tc.want) || !distinct(got) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if res.Up != tc.up || res.FailOpen != tc.failOpen || res.Spilled != tc.spilled || res.Policy != tc.kind {
				t.Errorf("up %v failOpen %v spilled %v policy %v, want %v %v %v %v",
					res.Up, res.FailOpen, res.Spilled, res.Policy, tc.up, tc.failOpen, tc.spilled, tc.kind)
			}
			if res.Dependent != tc.dependent {
				t.Errorf("dependent %v, want %v", res.Dependent, tc.dependent)
			}
			if v := varies(svc, q, Options{}); v != tc.dependent {
				t.Errorf("answers elsewhere differ: %v, want %v (as dependent)", v, tc.dependent)
			}
		})
	}
}

func distinct(names []string) bool {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return false
		}
		seen[n] = true
	}
	return true
}

// TestChooseRoundRobin checks the exact rotation over Seq.
func TestChooseRoundRobin(t *testing.T) {
	tests := []struct {
		name   string
		q      Query
		shards int
		names  []string // the candidates in name order
	}{
		{"global", Query{Level: Global, Family: V4, Loc: taipei}, 1, demoNames},
		{"global, three shards", Query{Level: Global, Family: V4, Loc: chicago}, 3, demoNames},
		{"region, two shards", Query{Level: Region, Region: "us-central1", Family: V4, Loc: nowhere}, 2, demoNames[3:]},
		{"more shards than candidates", Query{Level: Region, Region: "asia-east1", Family: V4, Loc: paris}, 5, demoNames[:2]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := service(t, policy.Policy{Kind: policy.RoundRobin, Shards: tc.shards}, nil, nil)
			n := len(tc.names)
			for seq := range uint64(3 * n) {
				tc.q.Seq = seq
				var want []string
				for i := range min(tc.shards, n) {
					want = append(want, tc.names[(int(seq)+i)%n])
				}
				if got := clusters(Choose(svc, tc.q, Options{}, nil)); !slices.Equal(got, want) {
					t.Errorf("seq %d: got %v, want %v", seq, got, want)
				}
			}
		})
	}
}

// TestChooseManyCandidates checks that more candidates than Choose's fixed
// array still answer right.
func TestChooseManyCandidates(t *testing.T) {
	regions := []string{"us-central1", "europe-west1", "asia-east1", "us-east1", "europe-west2"}
	var specs []shardSpec
	for i := range 40 {
		specs = append(specs, shardSpec{fmt.Sprintf("c%02d", i), regions[i%len(regions)], "z",
			[]string{fmt.Sprintf("192.0.2.%d", i+1)}, "", 3, health.Up})
	}
	snap := federation(t, specs...)
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	tests := []struct {
		name string
		pol  policy.Policy
		seq  uint64
		want []string // path.Match patterns
	}{
		{"closest", policy.Policy{}, 0, []string{"c[0-3][16]"}}, // in europe-west1
		{"failover", policy.Policy{Kind: policy.Failover, Shards: 2, Failover: []string{"c39", "c38"}}, 0, []string{"c39", "c38"}},
		{"weighted", policy.Policy{Kind: policy.Weighted, Weights: []policy.Weight{{Cluster: "c33", Weight: 1}}}, 0, []string{"c33"}},
		{"roundrobin", policy.Policy{Kind: policy.RoundRobin, Shards: 2}, 39, []string{"c39", "c00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc.Policy = tc.pol
			got := clusters(Choose(svc, Query{Level: Global, Family: V4, Loc: paris, Seq: tc.seq}, Options{}, nil))
			if !match(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// policyCases are the benchmarked and allocation-checked queries.
var policyCases = []struct {
	name    string
	pol     policy.Policy
	lvl     Level
	unready []string
}{
	{"closest", policy.Policy{}, Global, nil},
	{"closest-spill", policy.Policy{Spill: 0.5}, Global, nil},
	{"closest-region", policy.Policy{}, Region, nil},
	{"failover", policy.Policy{Kind: policy.Failover, Failover: []string{"europe-west1-b", "us-central1"}}, Global, nil},
	{"weighted", policy.Policy{Kind: policy.Weighted, Weights: []policy.Weight{{Cluster: "asia-east1-a", Weight: 1},
		{Cluster: "europe-west1-b", Weight: 3}, {Cluster: "us-central1-a", Weight: 6}}}, Global, nil},
	{"weighted-shards2", policy.Policy{Kind: policy.Weighted, Shards: 2, Weights: []policy.Weight{{Cluster: "asia-east1-a", Weight: 1},
		{Cluster: "europe-west1-b", Weight: 3}, {Cluster: "us-central1-a", Weight: 6}}}, Global, nil},
	{"roundrobin", policy.Policy{Kind: policy.RoundRobin}, Global, nil},
	{"fail-open", policy.Policy{Kind: policy.RoundRobin}, Global, demoNames},
}

func TestChoosePoliciesAllocs(t *testing.T) {
	for _, pc := range policyCases {
		t.Run(pc.name, func(t *testing.T) {
			svc := service(t, pc.pol, pc.unready, []string{"asia-east1-a", "asia-east1-b"})
			var buf [8]*model.Shard
			q := Query{Level: pc.lvl, Region: "us-central1", Family: V4, Loc: taipei}
			n := testing.AllocsPerRun(100, func() {
				q.Rand++
				q.Seq++
				Choose(svc, q, Options{}, buf[:0])
			})
			if n != 0 {
				t.Errorf("Choose allocates %v times, want 0", n)
			}
		})
	}
}

func BenchmarkChoosePolicy(b *testing.B) {
	for _, pc := range policyCases {
		b.Run(pc.name, func(b *testing.B) {
			svc := service(b, pc.pol, pc.unready, []string{"asia-east1-a", "asia-east1-b"})
			var buf [8]*model.Shard
			q := Query{Level: pc.lvl, Region: "us-central1", Family: V4, Loc: taipei}
			b.ReportAllocs()
			for b.Loop() {
				q.Rand += 0x9e3779b97f4a7c15
				q.Seq++
				Choose(svc, q, Options{}, buf[:0])
			}
		})
	}
}

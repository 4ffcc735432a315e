package answer

import (
	"slices"
	"testing"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

func TestDecide(t *testing.T) {
	// a: hostname only (Belgium), b: IPv4 only (Iowa), c: IPv6 only
	// (Taiwan), d: dual-stack (London).
	mixed := func(ready ...int) *model.Snapshot {
		specs := []shardSpec{
			{"a", "europe-west1", "europe-west1-b", nil, "lb.example.net.", 3, health.Up},
			{"b", "us-central1", "us-central1-a", []string{"192.0.2.2"}, "", 3, health.Up},
			{"c", "asia-east1", "asia-east1-a", []string{"2001:db8::3"}, "", 3, health.Up},
			{"d", "europe-west2", "europe-west2-a", []string{"192.0.2.4", "2001:db8::4"}, "", 3, health.Up},
		}
		for i, r := range ready {
			specs[i].ready = r
		}
		return federation(t, specs...)
	}
	tests := []struct {
		name     string
		snap     *model.Snapshot
		q        Query
		up       bool
		alias    string
		v4, v6   []string // ByFamily's clusters, when the name holds records
		failOpen bool
	}{
		{name: "closest has only a hostname: alias for every type", snap: mixed(), q: Query{Level: Global, Loc: paris}, alias: "lb.example.net."},
		{name: "closest has IPs: records, each family its closest", snap: mixed(), q: Query{Level: Global, Loc: taipei},
			v4: []string{"d"}, v6: []string{"c"}},
		{name: "hostname shard unready: records", snap: mixed(0), q: Query{Level: Global, Loc: paris}, v4: []string{"d"}, v6: []string{"d"}},
		{name: "region with one family: the other is empty, not up", snap: mixed(), q: Query{Level: Region, Region: "asia-east1"},
			v4: nil, v6: []string{"c"}},
		{name: "region with no usable shard: up", snap: mixed(3, 3, 0), q: Query{Level: Region, Region: "asia-east1"}, up: true},
		{name: "zone of the hostname shard: alias", snap: mixed(), q: Query{Level: Zone, Region: "europe-west1", Zone: "europe-west1-b"},
			alias: "lb.example.net."},
		{name: "no usable IPv6: no fail-open for AAAA while IPv4 is usable", snap: mixed(3, 3, 0, 0), q: Query{Level: Global, Loc: chicago},
			v4: []string{"b"}, v6: nil},
		{name: "nothing usable: fail-open in both families", snap: mixed(0, 0, 0, 0), q: Query{Level: Global, Loc: chicago},
			alias: "", v4: []string{"b", "d"}, v6: []string{"d", "c"}, failOpen: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := tc.snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
			for _, fam := range []Family{Any, V4, V6} { // the question's family never matters
				q := tc.q
				q.Family = fam
				d := Decide(svc, &q, &Options{}, false, nil)
				if d.Up != tc.up || alias(d) != tc.alias {
					t.Fatalf("family %d: up %v alias %q, want %v %q (%v)", fam, d.Up, alias(d), tc.up, tc.alias, clusters(d))
				}
			}
			d := Decide(svc, &tc.q, &Options{}, false, nil)
			if d.Up || d.Alias {
				return
			}
			if d.FailOpen != tc.failOpen {
				t.Errorf("fail-open %v, want %v", d.FailOpen, tc.failOpen)
			}
			got4 := clusters(ByFamily(svc, &tc.q, &d, V4, &Options{}, nil))
			got6 := clusters(ByFamily(svc, &tc.q, &d, V6, &Options{}, nil))
			if tc.failOpen { // fail-open names every shard of the family, closest first
				slices.Sort(got4)
				slices.Sort(got6)
				slices.Sort(tc.v4)
				slices.Sort(tc.v6)
			}
			if !slices.Equal(got4, tc.v4) || !slices.Equal(got6, tc.v6) {
				t.Errorf("A %v AAAA %v, want %v %v", got4, got6, tc.v4, tc.v6)
			}
		})
	}
}

// TestDecideSRV: an SRV name never aliases: its records name the hostname.
func TestDecideSRV(t *testing.T) {
	snap := federation(t, shardSpec{"a", "europe-west1", "z", nil, "lb.example.net.", 3, health.Up})
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	d := Decide(svc, &Query{Level: Global, Loc: geo.Location{}}, &Options{}, true, nil)
	if d.Alias || len(d.Shards) != 1 {
		t.Errorf("SRV decision: alias %v shards %v, want no alias and shard a", d.Alias, clusters(d))
	}
}

// TestByFamilyShortcut checks that returning the lead when no shard with
// an address lacks the family gives what choosing again would give.
func TestByFamilyShortcut(t *testing.T) {
	snap := demo(t, "asia-east1-b") // every shard has IPv4; one has IPv6
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	if svc.MissingV4 || !svc.MissingV6 {
		t.Fatalf("MissingV4 %v MissingV6 %v, want false true", svc.MissingV4, svc.MissingV6)
	}
	queries := []Query{
		{Level: Global, Loc: taipei}, {Level: Global, Loc: chicago}, {Level: Global, Loc: paris}, {Level: Global, Loc: nowhere},
		{Level: Region, Region: "us-central1"}, {Level: Zone, Region: "asia-east1", Zone: "asia-east1-a"},
	}
	for _, pol := range []policy.Policy{{}, {Shards: 2}, {Kind: policy.RoundRobin, Shards: 2},
		{Kind: policy.Weighted, Weights: []policy.Weight{{Cluster: "europe-west1-b", Weight: 1}, {Cluster: "us-central1-a", Weight: 2}}}} {
		svc.Policy = pol
		for i, q := range queries {
			q.Rand, q.Seq = uint64(i)*0x9e3779b97f4a7c15, uint64(i)
			lead := Decide(svc, &q, &Options{}, false, nil)
			q.Family = V4
			want := Choose(svc, q, Options{}, nil)
			got := ByFamily(svc, &q, &lead, V4, &Options{}, nil)
			if !slices.Equal(clusters(got), clusters(want)) || got.Dependent != want.Dependent || got.FailOpen != want.FailOpen {
				t.Errorf("policy %v query %d: shortcut %v, choosing again %v", pol.Kind, i, clusters(got), clusters(want))
			}
		}
	}
}

// alias is the hostname d's name is a CNAME to, or "".
func alias(d Result) string {
	if !d.Alias {
		return ""
	}
	return d.Shards[0].Hostname
}

// BenchmarkDecide is BenchmarkChoose's question answered as the answer
// path does for an A query: Decide, then ByFamily (its shortcut, as every
// demo shard has IPv4).
func BenchmarkDecide(b *testing.B) {
	snap := demo(b)
	svc := snap.Services[model.Key{Namespace: "default", Name: "nginx"}]
	var buf, buf4 [8]*model.Shard
	q, o := Query{Level: Global, Loc: taipei}, Options{}
	b.ReportAllocs()
	for b.Loop() {
		d := Decide(svc, &q, &o, false, buf[:0])
		ByFamily(svc, &q, &d, V4, &o, buf4[:0])
	}
}

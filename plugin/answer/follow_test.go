package answer

import (
	"net/netip"
	"testing"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/plugin/model"
)

// fixedLocator places every client at loc and counts the lookups.
type fixedLocator struct {
	loc   geo.Location
	calls int
}

func (f *fixedLocator) Locate(netip.Prefix) geo.Location { f.calls++; return f.loc }

func TestFollow(t *testing.T) {
	const origin, fed = "example.com.", "myfed"
	client := netip.MustParsePrefix("27.0.0.0/24")
	tests := []struct {
		name     string
		qname    string
		unready  []string
		client   netip.Prefix
		hops     int
		located  int    // Locate calls
		wantLast string // the last name of the chain
		wantIn   string // the region of the first shard chosen
	}{
		{"zone with a usable shard", "nginx.default.myfed.svc.us-central1-a.us-central1.example.com.", nil, client, 1, 0,
			"nginx.default.myfed.svc.us-central1-a.us-central1.example.com.", "us-central1"},
		{"zone falls back to its region", "nginx.default.myfed.svc.us-central1-a.us-central1.example.com.", []string{"us-central1-a"}, client, 2, 0,
			"nginx.default.myfed.svc.us-central1.example.com.", "us-central1"},
		{"zone falls back to global, located once", "nginx.default.myfed.svc.us-central1-a.us-central1.example.com.",
			[]string{"us-central1-a", "us-central1-b", "us-central1-c"}, client, 3, 1, "nginx.default.myfed.svc.example.com.", "asia-east1"},
		{"SRV name keeps its prefix up the chain", "_http._tcp.nginx.default.myfed.svc.europe-west1.example.com.", []string{"europe-west1-b"}, client, 2, 1,
			"_http._tcp.nginx.default.myfed.svc.example.com.", "asia-east1"},
		{"global with ECS /0: not located", "nginx.default.myfed.svc.example.com.", nil, netip.MustParsePrefix("0.0.0.0/0"), 1, 0,
			"nginx.default.myfed.svc.example.com.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := demo(t, tc.unready...)
			nm := Parse(tc.qname, origin, fed)
			loc := &fixedLocator{loc: taipei}
			var q Query
			var buf [8]*model.Shard
			hops, res := Follow(Lookup(snap, nm), nm, &q, &Options{}, loc, tc.client, buf[:0])
			last := nm
			for range hops - 1 {
				last = last.Up()
			}
			if hops != tc.hops || loc.calls != tc.located || last.Format(fed, origin) != tc.wantLast {
				t.Fatalf("hops %d, located %d times, last %s; want %d, %d, %s", hops, loc.calls, last.Format(fed, origin), tc.hops, tc.located, tc.wantLast)
			}
			if q.Level != last.Level || res.Up {
				t.Errorf("query level %v, up %v; want the last name's level %v and a decision", q.Level, res.Up, last.Level)
			}
			if tc.wantIn != "" && (len(res.Shards) == 0 || res.Shards[0].Cluster.Region != tc.wantIn) {
				t.Errorf("shards %v, want %s first", res.Shards, tc.wantIn)
			}
			if got := Parse(tc.wantLast, origin, fed); got != last {
				t.Errorf("Parse(Format(last)) = %+v, want %+v", got, last)
			}
		})
	}
}

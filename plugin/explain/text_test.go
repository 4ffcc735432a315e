package explain

import (
	"strings"
	"testing"
)

func TestWriteText(t *testing.T) {
	d := 152.4
	r := &Report{
		Question: ReportQuestion{Name: "a.example.com.", Type: "A", Client: "27.0.0.0/24", ECS: true},
		Verdict:  "A a.example.com for 27.0.0.0/24: c1 by closest",
		Kind:     "service",
		Name:     &NameReport{Level: "global", Namespace: "ns", Service: "a"},
		Client:   ClientReport{Known: true, Latitude: 25, Longitude: 121.5, Network: "27.0.0.0/16", Scope: 16, Used: true},
		Service:  &ServiceReport{Namespace: "ns", Name: "a", Policy: PolicyReport{Kind: "closest", Shards: 1, MinReady: 1, Probe: "http", Rise: 2, Fall: 3}, Problems: []string{`meridian.dev/spill="x": invalid value`}},
		Chain:    []ChainStep{{Name: "a.example.com.", Level: "global", Candidates: 2, Result: "records"}},
		Shards: []ShardReport{
			{Cluster: "c1", Region: "r1", DistanceKm: &d, ClusterState: "up", Ready: 3, Total: 3, Usable: true, Chosen: true, Rank: 1, Why: "named first"},
			{Cluster: "c2", Region: "r2", ClusterState: "down", Ready: 0, Total: 3, Why: "not usable: its cluster is down",
				Probes: []Probe{{Target: "192.0.2.1:80", Up: false}}},
		},
		TTL: 30, ECSScope: 16,
		Reply: ReplyReport{Rcode: "NOERROR", Answer: []string{"a.example.com. 30 IN A 192.0.2.9"}},
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	// Columns are aligned with spaces; compare with single spaces.
	squash := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
		return strings.Join(lines, "\n")
	}
	out := squash(b.String())
	for _, want := range []string{
		"A a.example.com for 27.0.0.0/24: c1 by closest\n",
		"client    27.0.0.0/24, at 25.00, 121.50 (GeoIP network 27.0.0.0/16, ECS scope /16)",
		"policy    closest, shards 1, min_ready 1, probe http, rise 2, fall 3",
		`problem   meridian.dev/spill="x": invalid value`,
		"chain     a.example.com (global): 2 candidates: records",
		"c1       r1      152 km    up     3/3    usable",
		"#1      named first",
		"down, probe 192.0.2.1:80 down",
		"reply NOERROR, TTL 30, ECS scope /16",
		"answer  a.example.com. 30 IN A 192.0.2.9",
	} {
		if want = squash(want); !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

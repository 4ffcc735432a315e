package meridian

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// TestServePolicies runs the Corefile's default policy through ServeDNS:
// the answers follow the policy and, since they do not depend on where the
// client is, carry ECS scope 0.
func TestServePolicies(t *testing.T) {
	// Weighted picks are random: 300 draws at 2:1 put us-central1-a ahead
	// with all but negligible odds (mean 200, sd 8), where 30 would fail
	// about one run in 25.
	const queries = 300
	usable := []string{"192.0.2.11", "198.51.100.11", "203.0.113.11"} // us-central1-b has no ready endpoint
	tests := []struct {
		name  string
		pol   func(*policy.Policy)
		check func(t *testing.T, counts map[string]int, order []string)
	}{
		{"roundrobin rotates through the usable shards in name order",
			func(p *policy.Policy) { p.Kind = policy.RoundRobin },
			func(t *testing.T, counts map[string]int, order []string) {
				// cluster-name order: asia-east1-a, europe-west1-b, us-central1-a
				names := []string{"203.0.113.11", "198.51.100.11", "192.0.2.11"}
				for i := 1; i < len(order); i++ {
					if want := next(names, order[i-1]); order[i] != want {
						t.Fatalf("answer %d: %s after %s, want %s (order %v)", i, order[i], order[i-1], want, order)
					}
				}
				for _, a := range usable {
					if counts[a] != queries/3 {
						t.Errorf("%s answered %d times of %d, want %d", a, counts[a], queries, queries/3)
					}
				}
			}},
		{"weighted: weight 0 never, the rest by weight",
			func(p *policy.Policy) {
				p.Kind = policy.Weighted
				p.Weights = []policy.Weight{{Cluster: "europe-west1-b", Weight: 1}, {Cluster: "us-central1-a", Weight: 2}}
			},
			func(t *testing.T, counts map[string]int, _ []string) {
				if counts["203.0.113.11"] != 0 || counts["192.0.2.12"] != 0 {
					t.Errorf("picked a shard of weight 0 or an unusable one: %v", counts)
				}
				if counts["192.0.2.11"] <= counts["198.51.100.11"] || counts["198.51.100.11"] == 0 {
					t.Errorf("picks %v, want about 2:1 for us-central1-a over europe-west1-b", counts)
				}
			}},
		{"failover: the first usable entry wins",
			func(p *policy.Policy) {
				p.Kind = policy.Failover
				p.Failover = []string{"us-central1-b", "europe-west1"}
			},
			func(t *testing.T, counts map[string]int, _ []string) {
				if counts["198.51.100.11"] != queries {
					t.Errorf("answers %v, want europe-west1-b every time (us-central1-b is not usable)", counts)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestPlugin(t, func(c *Config) { tc.pol(&c.Build.Defaults) })
			counts := map[string]int{}
			var order []string
			for range queries {
				rec := dnstest.NewRecorder(&test.ResponseWriter{})
				if _, err := m.ServeDNS(context.Background(), rec, query(global, dns.TypeA, "27.0.0.0/24")); err != nil {
					t.Fatal(err)
				}
				if len(rec.Msg.Answer) != 1 {
					t.Fatalf("answer %v, want one record", rec.Msg.Answer)
				}
				a := rec.Msg.Answer[0].(*dns.A).A.String()
				counts[a]++
				order = append(order, a)
				if ecs := dnsmsg.SubnetOf(rec.Msg); ecs == nil || ecs.SourceScope != 0 {
					t.Fatalf("ECS %v, want scope 0", ecs)
				}
			}
			tc.check(t, counts, order)
		})
	}
}

func next(ring []string, cur string) string {
	for i, s := range ring {
		if s == cur {
			return ring[(i+1)%len(ring)]
		}
	}
	return ""
}

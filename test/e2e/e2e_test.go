package e2e

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

const (
	nginx  = "nginx.default.myfederation.svc.example.com."
	taipei = "27.0.0.0/24"
	chi    = "24.0.0.0/24"
)

var asiaClusters = []string{"asia-east1-a", "asia-east1-b", "asia-east1-c"}

func TestDemoAnswers(t *testing.T) {
	s := startDemo(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			tests := []struct {
				name, qname, subnet, wantPrefix string
				qtype                           uint16
				scope                           uint8
			}{
				{"asia client gets asia-east1", nginx, taipei, "203.0.113.", dns.TypeA, 16},
				{"us client gets us-central1", nginx, chi, "192.0.2.", dns.TypeA, 16}, // 24.0.0.0/17 widened
				{"europe client gets europe-west1", nginx, "81.0.0.0/24", "198.51.100.", dns.TypeA, 16},
				{"ipv6 service for a tokyo client", "echo.default.myfederation.svc.example.com.", "2001:200::/48", "2001:db8:3::", dns.TypeAAAA, 32},
				{"region name", "nginx.default.myfederation.svc.europe-west1.example.com.", taipei, "198.51.100.", dns.TypeA, 0},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					r := s.Ask(t, network, tc.qname, tc.qtype, tc.subnet)
					if r.Rcode != dns.RcodeSuccess || !r.Authoritative || r.RecursionAvailable {
						t.Fatalf("rcode %s AA %v RA %v", dns.RcodeToString[r.Rcode], r.Authoritative, r.RecursionAvailable)
					}
					if got := e2eutil.Addrs(r); !e2eutil.InRange(got, tc.wantPrefix) {
						t.Errorf("answer %v, want addresses in %s*", got, tc.wantPrefix)
					}
					if ecs := e2eutil.Subnet(r); ecs == nil || ecs.SourceScope != tc.scope {
						t.Errorf("ECS %v, want scope %d", ecs, tc.scope)
					}
				})
			}
		})
	}
	t.Run("negative answers carry the SOA", func(t *testing.T) {
		r := s.Ask(t, "udp", "nope.default.myfederation.svc.example.com.", dns.TypeA, "")
		if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("got %v, want NXDOMAIN with the SOA", r)
		}
	})
	t.Run("outside the zone is refused", func(t *testing.T) {
		if r := s.Ask(t, "udp", "example.org.", dns.TypeA, ""); r.Rcode != dns.RcodeRefused {
			t.Errorf("rcode %s, want REFUSED", dns.RcodeToString[r.Rcode])
		}
	})
}

// TestDemoWalkthrough replays the README: make the Asia shards unready and
// the Asian client moves to the next-closest healthy shard, with no restart;
// make them ready again and it comes back.
func TestDemoWalkthrough(t *testing.T) {
	s := startDemo(t)
	if got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, taipei)); !e2eutil.InRange(got, "203.0.113.") {
		t.Fatalf("before: %v, want asia-east1", got)
	}
	for _, c := range asiaClusters {
		s.editDemo(t, c, "name: nginx-demo", "ready: true", "ready: false")
	}
	took := waitAnswer(t, s, taipei, "198.51.100.")
	t.Logf("asia unready: answer moved to europe-west1 after %v", took)
	for _, c := range asiaClusters {
		s.editDemo(t, c, "name: nginx-demo", "ready: false", "ready: true")
	}
	took = waitAnswer(t, s, taipei, "203.0.113.")
	t.Logf("asia ready again: answer back after %v", took)
	// Every cluster's series exists from the start at 0: some europe-west1
	// cluster's count must have grown.
	counted := false
	for _, c := range []string{"europe-west1-b", "europe-west1-c", "europe-west1-d"} {
		if v := s.Metric(t, `coredns_meridian_answers_total{cluster="`+c+`",policy="closest"}`); v != "" && v != "0" {
			counted = true
		}
	}
	if !counted {
		t.Errorf("metrics do not count the europe-west1 answers")
	}
}

// waitAnswer polls until the Taipei client's answer is in prefix.
func waitAnswer(t *testing.T, s *server, subnet, prefix string) time.Duration {
	t.Helper()
	return e2eutil.Eventually(t, 10*time.Second, "answer in "+prefix, func() bool {
		return e2eutil.InRange(e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, subnet)), prefix)
	})
}

// TestDemoMalformedFile writes a broken manifest: the cluster keeps its last
// good state, the error is counted, and answers go on.
func TestDemoMalformedFile(t *testing.T) {
	s := startDemo(t)
	e2eutil.WriteFile(t, s.demo+"/asia-east1-a/broken.yaml", "kind: Service\napiVersion: v1\nmetadata: [not, a, map\n")
	deadline := time.Now().Add(10 * time.Second)
	// The series exists from the start at 0: wait for the count.
	for v := s.Metric(t, `coredns_meridian_source_errors_total{cluster="asia-east1-a",reason="malformed"}`); v == "" || v == "0"; v = s.Metric(t, `coredns_meridian_source_errors_total{cluster="asia-east1-a",reason="malformed"}`) {
		if time.Now().After(deadline) {
			t.Fatal("malformed file not counted in coredns_meridian_source_errors_total")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := s.Ask(t, "udp", "nginx.default.myfederation.svc.asia-east1-a.asia-east1.example.com.", dns.TypeA, "")
	if got := e2eutil.Addrs(r); len(got) != 1 || got[0] != "203.0.113.11" {
		t.Errorf("asia-east1-a answer %v, want its last good 203.0.113.11", got)
	}
	if !strings.Contains(s.Out.String(), "broken.yaml") {
		t.Errorf("log does not name the broken file:\n%s", s.Out)
	}
}

// TestDemoDig checks the server with real clients, where installed.
func TestDemoDig(t *testing.T) {
	s := startDemo(t)
	host, port, _ := net.SplitHostPort(s.DNS)
	for _, tc := range []struct{ tool, subnetFlag string }{{"dig", "+subnet="}, {"kdig", "+subnet="}} {
		t.Run(tc.tool, func(t *testing.T) {
			path, err := exec.LookPath(tc.tool)
			if err != nil {
				e2eutil.RequireRealParts(t, tc.tool+" not installed (make tools installs it)")
			}
			for _, proto := range []string{"+notcp", "+tcp"} {
				out, err := exec.Command(path, "@"+host, "-p", port, proto, "+short", tc.subnetFlag+taipei, nginx, "A").CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", tc.tool, err, out)
				}
				if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "203.0.113.") {
					t.Errorf("%s %s: %q, want an asia-east1 address", tc.tool, proto, got)
				}
			}
		})
	}
}

// TestDemoPolicies checks the demo's annotated services on the real binary:
// failover answers with the first entry of its list for every client, and
// weighted spreads its picks by weight; neither depends on the client, so
// both answer with ECS scope 0.
func TestDemoPolicies(t *testing.T) {
	s := startDemo(t)
	for _, subnet := range []string{taipei, chi, "81.0.0.0/24"} {
		r := s.Ask(t, "udp", "api.default.myfederation.svc.example.com.", dns.TypeA, subnet)
		if got := e2eutil.Addrs(r); len(got) != 1 || got[0] != "192.0.2.32" {
			t.Errorf("failover from %s: %v, want us-central1-b's 192.0.2.32", subnet, got)
		}
		if ecs := e2eutil.Subnet(r); ecs == nil || ecs.SourceScope != 0 {
			t.Errorf("failover from %s: ECS %v, want scope 0", subnet, ecs)
		}
	}
	const n = 400
	counts := map[string]int{}
	for range n {
		r := s.Ask(t, "udp", "canary.default.myfederation.svc.example.com.", dns.TypeA, taipei)
		got := e2eutil.Addrs(r)
		if len(got) != 1 {
			t.Fatalf("weighted: %v, want one address", got)
		}
		counts[got[0]]++
		if ecs := e2eutil.Subnet(r); ecs == nil || ecs.SourceScope != 0 {
			t.Fatalf("weighted: ECS %v, want scope 0", ecs)
		}
	}
	// 9:1 over 400 picks: 360 expected, standard deviation 6; allow 5 of them.
	if a, b := counts["192.0.2.41"], counts["198.51.100.41"]; a+b != n || a < 330 || a > 390 {
		t.Errorf("weighted picks %v, want about 360 of %d for us-central1-a and the rest for europe-west1-b", counts, n)
	}
}

package meridian

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promtest"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/explain"
	"github.com/meridian-dns/meridian/plugin/status"
)

// explainClients are the rule clients as explain takes them: the ECS
// networks, and source addresses (no ECS) that GeoIP places or not.
var explainClients = func() []explain.Question {
	var qs []explain.Question
	for _, c := range ruleClients {
		if c != "" {
			qs = append(qs, explain.Question{Client: netip.MustParsePrefix(c), ECS: true})
		}
	}
	return append(qs,
		explain.Question{Client: netip.MustParsePrefix("10.240.0.1/32")},
		explain.Question{Client: netip.MustParsePrefix("81.2.69.160/32")},
		explain.Question{Client: netip.MustParsePrefix("0.0.0.0/0"), ECS: true})
}()

// TestExplainEqualsServeDNS asks every name of the rule federations (every
// level, service, SRV and host names, every policy, degraded and failing
// open) for every type, client and replayed draw, through explain and
// through ServeDNS, and checks that explain reports the very reply
// ServeDNS writes, and that the shards it says it chose are the ones whose
// addresses the reply holds.
func TestExplainEqualsServeDNS(t *testing.T) {
	feds := ruleFederations()
	for seed := range 4 {
		feds = append(feds, namedFed{fmt.Sprintf("generated-%d", seed), generateFederation(uint64(seed)), false})
	}
	asked := 0
	defer func() { t.Logf("%d questions asked both ways", asked) }()
	for _, f := range feds {
		t.Run(f.name, func(t *testing.T) {
			m := newFederationPlugin(t, f.clusters)
			kinds := map[string]int{}
			for _, name := range ruleNames(m) {
				for _, c := range explainClients {
					for _, draw := range ruleDraws[:2] {
						for _, qt := range ruleTypes {
							q := c
							q.Name, q.Type = name, qt
							rep := checkExplain(t, m, q, draw)
							if rep == nil {
								return // one failure per federation is enough to read
							}
							asked++
							kinds[rep.Kind]++
							if rep.Decision != nil && rep.Decision.FailOpen {
								kinds["fail-open"]++
							}
						}
					}
				}
			}
			if kinds["service"] == 0 || kinds["host"] == 0 {
				t.Errorf("explained %v: no service or no host name", kinds)
			}
		})
	}
}

// checkExplain compares explain's report of q with ServeDNS's reply to
// the same query, both with draw replayed, and returns the report (nil
// after a failure).
func checkExplain(t *testing.T, m *Meridian, q explain.Question, draw uint64) *explain.Report {
	t.Helper()
	where := fmt.Sprintf("%s %s client %s (ecs %v) draw %d", q.Name, dns.TypeToString[q.Type], q.Client, q.ECS, draw)
	m.auth.SetRandom(func() uint64 { return draw })
	m.auth.SetSeq(draw)
	rep, err := m.Explain(context.Background(), q)
	if err != nil {
		t.Errorf("%s: Explain: %v", where, err)
		return nil
	}
	msg := new(dns.Msg)
	msg.SetQuestion(q.Name, q.Type)
	msg.SetEdns0(1232, false)
	w := &test.ResponseWriter{RemoteIP: "127.0.0.1"}
	if q.ECS {
		o := msg.IsEdns0()
		o.Option = append(o.Option, dnsmsg.Subnet(q.Client))
	} else {
		w.RemoteIP = q.Client.Addr().String()
	}
	m.auth.SetSeq(draw)
	rec := dnstest.NewRecorder(w)
	if _, err := m.ServeDNS(context.Background(), rec, msg); err != nil {
		t.Fatalf("%s: ServeDNS: %v", where, err)
	}
	want := explain.Reply(rec.Msg)
	if !equalReply(rep.Reply, want) {
		t.Errorf("%s: explain reports the reply\n%+v\nServeDNS wrote\n%+v", where, rep.Reply, want)
		return nil
	}
	if err := checkChosen(rep, rec.Msg, q); err != nil {
		t.Errorf("%s: %v\nreport %+v\nreply %v", where, err, rep.Decision, rec.Msg)
		return nil
	}
	return rep
}

func equalReply(a, b explain.ReplyReport) bool {
	return a.Rcode == b.Rcode && a.Authoritative == b.Authoritative && a.Truncated == b.Truncated &&
		slices.Equal(a.Answer, b.Answer) && slices.Equal(a.Authority, b.Authority) && slices.Equal(a.Additional, b.Additional)
}

// checkChosen checks that the shards the report says were chosen for an
// A or AAAA question are those whose addresses the reply holds, in order,
// and that the TTL and scope it reports are the reply's.
func checkChosen(rep *explain.Report, reply *dns.Msg, q explain.Question) error {
	if rep.Decision == nil {
		if rep.Kind == "service" || rep.Kind == "host" {
			return errors.New("a service or host name with no decision")
		}
		return nil
	}
	if ecs := explainScope(reply); q.ECS && ecs != int(rep.ECSScope) {
		return fmt.Errorf("ECS scope %d reported, %d in the reply", rep.ECSScope, ecs)
	}
	if q.Type != dns.TypeA && q.Type != dns.TypeAAAA || rep.Name.Port != "" {
		return nil // an SRV name holds SRV records only
	}
	chosen := rep.Decision.Chosen
	if q.Type == dns.TypeA && rep.Decision.A != nil {
		chosen = rep.Decision.A
	}
	if q.Type == dns.TypeAAAA && rep.Decision.AAAA != nil {
		chosen = rep.Decision.AAAA
	}
	var want, got []string
	if !rep.Decision.Alias {
		for _, c := range chosen {
			for _, s := range rep.Shards {
				if s.Cluster != c {
					continue
				}
				for _, a := range s.Addresses {
					if netip.MustParseAddr(a).Is4() == (q.Type == dns.TypeA) {
						want = append(want, a)
					}
				}
			}
		}
	}
	for _, rr := range reply.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			got = append(got, rr.A.String())
		case *dns.AAAA:
			got = append(got, rr.AAAA.String())
		default:
			continue
		}
		if rr.Header().Ttl != rep.TTL {
			return fmt.Errorf("TTL %d reported, %d in the reply", rep.TTL, rr.Header().Ttl)
		}
	}
	if !slices.Equal(want, got) {
		return fmt.Errorf("the chosen shards %v have the addresses %v, the reply holds %v", chosen, want, got)
	}
	return nil
}

func explainScope(m *dns.Msg) int {
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			for _, e := range o.Option {
				if s, ok := e.(*dns.EDNS0_SUBNET); ok {
					return int(s.SourceScope)
				}
			}
		}
	}
	return 0
}

// TestExplainReport reads one report of the handler fixture in detail:
// the name, the client's location, each shard's distance and why it was
// passed over, the chain of a zone name with no usable shard; an explained
// answer counts in no metric.
func TestExplainReport(t *testing.T) {
	m := newTestPlugin(t)
	ctx := context.Background()
	q, err := status.ParseQuestion(usc1b, "A", "27.0.0.0/24", "")
	if err != nil {
		t.Fatal(err)
	}
	before := promtest.Values(t, prometheus.DefaultGatherer)
	rep, err := m.Explain(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if after := promtest.Values(t, prometheus.DefaultGatherer); !sameAnswerCounts(before, after) {
		t.Errorf("explain counted an answer: %v -> %v", before, after)
	}
	if rep.Kind != "service" || rep.Name.Level != "zone" || rep.Name.Zone != "us-central1-b" || rep.Name.Service != "nginx" {
		t.Errorf("name %+v kind %s", rep.Name, rep.Kind)
	}
	if len(rep.Chain) != 2 || rep.Chain[0].Candidates != 0 || rep.Chain[1].Level != "region" || rep.Chain[1].Name != usc1 {
		t.Errorf("chain %+v, want the zone name then the region name", rep.Chain)
	}
	if !rep.Client.Known || rep.Client.Network == "" || rep.Client.Scope == 0 || rep.Client.Used {
		t.Errorf("client %+v: known, not used at the region level", rep.Client)
	}
	byCluster := map[string]explain.ShardReport{}
	for _, s := range rep.Shards {
		byCluster[s.Cluster] = s
	}
	for cluster, want := range map[string]string{
		"us-central1-a":  "named first",
		"us-central1-b":  "not usable: too few ready endpoints (0 of 3)",
		"europe-west1-b": "outside region us-central1",
		"asia-east1-a":   "outside region us-central1",
	} {
		if got := byCluster[cluster].Why; !strings.HasPrefix(got, want) {
			t.Errorf("%s: why %q, want %q", cluster, got, want)
		}
	}
	if s := byCluster["asia-east1-a"]; s.DistanceKm == nil || *s.DistanceKm > 3000 || !s.Usable || s.Passive == nil || !s.Passive.Up {
		t.Errorf("asia-east1-a from Taipei: %+v", s)
	}
	if !strings.Contains(rep.Verdict, "us-central1-a") || !strings.Contains(rep.Verdict, "CNAME up to the region name") {
		t.Errorf("verdict %q", rep.Verdict)
	}

	// The global name for the same client: the closest, Asia.
	q.Name = global
	if rep, err = m.Explain(ctx, q); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Decision.Chosen, []string{"asia-east1-a"}) || !rep.Client.Used || rep.ECSScope == 0 ||
		!strings.Contains(rep.Verdict, "asia-east1-a by closest") {
		t.Errorf("global: decision %+v verdict %q", rep.Decision, rep.Verdict)
	}

	for _, tc := range []struct{ name, qtype, client, want string }{
		{"", "A", "", "name is missing"},
		{global, "BOGUS", "", "not a DNS type name"},
		{global, "A", "27.0.0.1/99", "client"},
		{"nginx.default.myfed.svc.example.org.", "A", "27.0.0.1", "in none of the zones"},
	} {
		q, err := status.ParseQuestion(tc.name, tc.qtype, tc.client, "127.0.0.1:5000")
		if err == nil {
			_, err = m.Explain(ctx, q)
		}
		if !errors.Is(err, status.ErrQuestion) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q %q: %v, want a question error with %q", tc.name, tc.qtype, tc.client, err, tc.want)
		}
	}
}

// sameAnswerCounts reports whether the answer counters are the same.
func sameAnswerCounts(a, b map[string]float64) bool {
	for k, v := range a {
		if strings.HasPrefix(k, "coredns_meridian_answers_total") && b[k] != v {
			return false
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && strings.HasPrefix(k, "coredns_meridian_answers_total") {
			return false
		}
	}
	return true
}

// TestStateGauges counts the fixture's services by state, every state of
// both kinds reported: nginx is degraded (no ready endpoint in
// us-central1-b), shop/web healthy.
func TestStateGauges(t *testing.T) {
	m := newTestPlugin(t)
	got := map[string]float64{}
	collectStates(m.pipe.Snapshot(), func(d *prometheus.Desc, v float64, labels ...string) {
		got[strings.Join(labels, ",")] = v
	})
	want := map[string]float64{
		"service,failing_open": 0, "service,degraded": 1, "service,no_address": 0, "service,healthy": 1,
		"host,failing_open": 0, "host,degraded": 0, "host,no_address": 0, "host,healthy": 0,
		"": 0, // services with annotation problems
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("gauges %v, want %v", got, want)
	}
}

// TestStatusListener: Start serves the status listener of the Corefile,
// fails before starting anything when its address is taken, and Stop
// closes it.
func TestStatusListener(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	m := newTestPlugin(t, func(c *Config) { c.Status = &status.Config{Addr: taken.Addr().String()} })
	if err := m.Start(); err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		m.Stop()
		t.Fatalf("Start on a taken address: %v", err)
	}
	if m.cancel != nil {
		t.Error("the loop started though the listener failed")
	}

	m = newTestPlugin(t, func(c *Config) { c.Status = &status.Config{Addr: "127.0.0.1:0"} })
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + m.status.Addr() + "/explain?name=" + global + "&client=27.0.0.0/24"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	m.Stop()
	if _, err := http.Get(url); err == nil {
		t.Error("the listener is still open after Stop")
	}
}

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// dnssecCase is one kind of answer asked through a validating resolver.
type dnssecCase struct {
	kind   string
	name   string
	qtype  uint16
	client string // the client subnet the query carries, "" none
	// direct is the authority's rcode without DNSSEC: the kind of answer.
	direct int
	// check returns why the validated reply's content is wrong, or "".
	check func(r *dns.Msg) string
}

const (
	dnssecUS   = "nginx.default.myfederation.svc.us-central1.example.com."
	dnssecEcho = "echo.default.myfederation.svc.us-central1.example.com."
	dnssecNgx  = "nginx.default.myfederation.svc.example.com."
	// dnssecChain is a zone name of canary, which has no shard in
	// asia-east1: zone -> region -> global, every name in example.com.
	dnssecChain = "canary.default.myfederation.svc.asia-east1-a.asia-east1.example.com."
)

// dnssecCases are the answer kinds of issue 16 item 5: A, AAAA, a CNAME
// chain, SRV, TXT, NODATA, NXDOMAIN (signed as NODATA with an NSEC black
// lie, so NOERROR through the resolver) and the global name steered by
// ECS for a Chicago and a Paris client.
var dnssecCases = []dnssecCase{
	{"A", dnssecEcho, dns.TypeA, "", dns.RcodeSuccess, addrsIn(dns.TypeA, "192.0.2.", 3)},
	{"AAAA", dnssecEcho, dns.TypeAAAA, "", dns.RcodeSuccess, addrsIn(dns.TypeAAAA, "2001:db8:1::", 3)},
	{"CNAME chain", dnssecChain, dns.TypeA, "", dns.RcodeSuccess, inZoneChain(2)},
	{"SRV", "_http._tcp." + dnssecUS, dns.TypeSRV, "", dns.RcodeSuccess, hasType(dns.TypeSRV, "")},
	{"TXT", dnssecUS, dns.TypeTXT, "", dns.RcodeSuccess, hasType(dns.TypeTXT, "region=us-central1")},
	{"NODATA", dnssecUS, dns.TypeAAAA, "", dns.RcodeSuccess, noAnswer},
	{"NXDOMAIN", "nosuch.default.myfederation.svc.example.com.", dns.TypeA, "", dns.RcodeNameError, noAnswer},
	{"ECS Chicago", dnssecNgx, dns.TypeA, "24.0.0.0/24", dns.RcodeSuccess, addrsIn(dns.TypeA, "192.0.2.", 1)},
	{"ECS Paris", dnssecNgx, dns.TypeA, "81.0.0.0/24", dns.RcodeSuccess, addrsIn(dns.TypeA, "198.51.100.", 1)},
}

// TestDNSSECThroughUnbound signs the demo zone with CoreDNS's dnssec plugin
// in meridian's block (the fast path on in the Corefile) and asks every
// kind of dnssecCases:
//
//   - of the authority, without DO: the kind's rcode, unsigned; with DO:
//     signatures (RRSIG) in the reply;
//   - through a validating Unbound whose trust anchor is the zone's key:
//     the rcode (NOERROR for NXDOMAIN: a black lie), the right content and
//     AD set;
//   - through a validating Unbound whose trust anchor is another key:
//     SERVFAIL, with Unbound's Extended DNS Error.
//
// The fast path must answer nothing: the dnssec plugin comes before
// meridian and must sign every reply, so the log says the fast path is
// off and its answered counter stays 0 after A queries it would answer
// (the control subtest shows it answers them without dnssec).
func TestDNSSECThroughUnbound(t *testing.T) {
	if e2eutil.UnboundBinary() == "" {
		e2eutil.RequireRealParts(t, "unbound is not installed (hack/install-tools.sh installs it)")
	}
	key := e2eutil.NewDNSSECKey(t, t.TempDir(), "example.com.")
	wrong := e2eutil.NewDNSSECKey(t, t.TempDir(), "example.com.")
	s := startDemoWith(t, withDNSSEC(key)...)
	lb := map[string]string{"lb.example.net.": lbZone}
	good := e2eutil.StartUnbound(t, e2eutil.UnboundConfig{Zone: "example.com.", Authority: s.DNS, Local: lb, TrustAnchor: key.Anchor()})
	bad := e2eutil.StartUnbound(t, e2eutil.UnboundConfig{Zone: "example.com.", Authority: s.DNS, Local: lb, TrustAnchor: wrong.Anchor()})
	t.Logf("trust anchor %s; wrong one %s", key.Anchor(), wrong.Anchor())

	for _, c := range dnssecCases {
		t.Run(c.kind, func(t *testing.T) {
			checkSigned(t, s, c)
			r, err := good.ExchangeDO(c.name, c.qtype, c.client)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
				t.Errorf("validating Unbound: %s, AD %v; want NOERROR and AD (secure):\n%v", dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
			} else if why := c.check(r); why != "" {
				t.Errorf("validating Unbound: %s:\n%v", why, r)
			}
			r, err = bad.ExchangeDO(c.name, c.qtype, c.client)
			if err != nil {
				t.Fatal(err)
			}
			// Unbound says DNSKEY Missing (9) for the query that finds no
			// key matching the anchor, then DNSSEC Bogus (6) while it
			// holds the zone's keys as invalid.
			ede, ok := e2eutil.EDE(r)
			if r.Rcode != dns.RcodeServerFailure || !ok || (ede != dns.ExtendedErrorCodeDNSKEYMissing && ede != dns.ExtendedErrorCodeDNSBogus) {
				t.Errorf("Unbound with the wrong key: %s, EDE %d (%v); want SERVFAIL, EDE 9 (DNSKEY Missing) or 6 (DNSSEC Bogus):\n%v", dns.RcodeToString[r.Rcode], ede, ok, r)
			}
		})
	}
	t.Run("ECS steers", func(t *testing.T) {
		us, err1 := good.ExchangeDO(dnssecNgx, dns.TypeA, "24.0.0.0/24")
		eu, err2 := good.ExchangeDO(dnssecNgx, dns.TypeA, "81.0.0.0/24")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if a, b := e2eutil.Addrs(us), e2eutil.Addrs(eu); len(a) == 0 || strings.Join(a, " ") == strings.Join(b, " ") {
			t.Errorf("Chicago %v and Paris %v: want different regions, both answered", a, b)
		}
	})
	checkFastPathOff(t, s)
	t.Run("control: the fast path answers without dnssec", func(t *testing.T) {
		plain := startDemo(t)
		n := fastAnswered(t, plain)
		t.Logf("without dnssec, the fast path answered %v of %d A queries", n, dnssecFastQueries)
		if n < dnssecFastQueries {
			t.Errorf("the fast path answered %v of %d A queries without dnssec; the check above could not fail", n, dnssecFastQueries)
		}
	})
}

// withDNSSEC is the startDemoWith rewrite that adds a dnssec block with
// key to the demo's authoritative block (the first block that ends with
// errors).
func withDNSSEC(key e2eutil.DNSSECKey) []string {
	return []string{"    errors\n}\n\n#", "    dnssec {\n        key file " + key.Base + "\n    }\n    errors\n}\n\n#"}
}

// dnssecFastQueries is how many A queries the fast-path checks send.
const dnssecFastQueries = 50

// checkFastPathOff checks that s's log says why the fast path is off and
// that it answers none of dnssecFastQueries A queries.
func checkFastPathOff(t *testing.T, s *server) {
	t.Helper()
	line := fmt.Sprintf("fast path off on %s: plugin dnssec comes before meridian", s.DNS)
	if !strings.Contains(s.Out.String(), line) {
		t.Errorf("the log does not say %q:\n%s", line, s.Out)
	}
	fastAnswered(t, s)
	if n := metricValue(s.Scrape(t), fastAnsweredSeries); n != 0 {
		t.Errorf("the fast path answered %v queries of a signed zone; want 0 (every query through the dnssec plugin)", n)
	}
}

// fastAnsweredSeries counts the queries the fast path answered.
const fastAnsweredSeries = `coredns_meridian_fastpath_packets_total{path="answered"}`

// fastAnswered sends dnssecFastQueries A queries for the global nginx name
// with and without DO, each answered, and returns how many the fast path
// answered.
func fastAnswered(t *testing.T, s *server) float64 {
	t.Helper()
	before := metricValue(s.Scrape(t), fastAnsweredSeries)
	for i := range dnssecFastQueries {
		exchange := e2eutil.ExchangeECS
		if i%2 == 1 {
			exchange = e2eutil.ExchangeDO
		}
		r, err := exchange(s.DNS, dnssecNgx, dns.TypeA, "81.0.0.0/24")
		if err != nil || len(e2eutil.Addrs(r)) == 0 {
			t.Fatalf("query %d: %v, %v", i, err, r)
		}
	}
	return metricValue(s.Scrape(t), fastAnsweredSeries) - before
}

// checkSigned asks the authority c's question without DO (the kind's
// rcode, no signature) and with DO (signatures, and NXDOMAIN turned into
// NODATA with an NSEC).
func checkSigned(t *testing.T, s *server, c dnssecCase) {
	t.Helper()
	plain, err := s.Exchange("udp", c.name, c.qtype, c.client)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Rcode != c.direct || countType(plain, dns.TypeRRSIG) != 0 {
		t.Errorf("authority without DO: %s with %d RRSIG; want %s unsigned:\n%v",
			dns.RcodeToString[plain.Rcode], countType(plain, dns.TypeRRSIG), dns.RcodeToString[c.direct], plain)
	}
	signed, err := e2eutil.ExchangeDO(s.DNS, c.name, c.qtype, c.client)
	if err != nil {
		t.Fatal(err)
	}
	if signed.Rcode != dns.RcodeSuccess || countType(signed, dns.TypeRRSIG) == 0 {
		t.Errorf("authority with DO: %s with no RRSIG; want NOERROR, signed:\n%v", dns.RcodeToString[signed.Rcode], signed)
	}
	if len(plain.Answer) == 0 && countType(signed, dns.TypeNSEC) == 0 {
		t.Errorf("authority with DO: a negative answer without NSEC:\n%v", signed)
	}
}

// countType counts m's records of type rrtype in every section.
func countType(m *dns.Msg, rrtype uint16) int {
	n := 0
	for _, rr := range append(append(append([]dns.RR{}, m.Answer...), m.Ns...), m.Extra...) {
		if rr.Header().Rrtype == rrtype {
			n++
		}
	}
	return n
}

// addrsIn checks for at least n addresses of rrtype, all starting with prefix.
func addrsIn(rrtype uint16, prefix string, n int) func(*dns.Msg) string {
	return func(r *dns.Msg) string {
		addrs := e2eutil.Addrs(r)
		if countType(r, rrtype) < n || len(addrs) < n || !e2eutil.InRange(addrs, prefix) {
			return fmt.Sprintf("want at least %d %s in %s, got %v", n, dns.TypeToString[rrtype], prefix, addrs)
		}
		return ""
	}
}

// hasType checks for records of rrtype whose text holds substr.
func hasType(rrtype uint16, substr string) func(*dns.Msg) string {
	return func(r *dns.Msg) string {
		for _, rr := range r.Answer {
			if rr.Header().Rrtype == rrtype && strings.Contains(rr.String(), substr) {
				return ""
			}
		}
		return fmt.Sprintf("no %s record with %q", dns.TypeToString[rrtype], substr)
	}
}

// noAnswer checks for an empty answer (NODATA).
func noAnswer(r *dns.Msg) string {
	if len(r.Answer) != 0 {
		return "want no answer records (NODATA)"
	}
	return ""
}

// inZoneChain checks for n CNAMEs from the question name, each to the
// next, ending in A records at the last target, every owner in example.com.
func inZoneChain(n int) func(*dns.Msg) string {
	return func(r *dns.Msg) string {
		name := strings.ToLower(r.Question[0].Name)
		cnames := 0
		for _, rr := range r.Answer {
			if !inZone(strings.ToLower(rr.Header().Name)) {
				return "a record outside example.com: " + rr.String()
			}
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
				name, cnames = strings.ToLower(c.Target), cnames+1
			}
		}
		if cnames != n || chainEnd(r.Question[0].Name, r) != name || !hasAddrAt(r, name) {
			return fmt.Sprintf("want a chain of %d CNAMEs in example.com ending in A records; %d CNAMEs to %s", n, cnames, name)
		}
		return ""
	}
}

// hasAddrAt reports whether r's answer has an A record owned by name.
func hasAddrAt(r *dns.Msg, name string) bool {
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.A); ok && strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// TestDNSSECCost measures what online signing costs the real binary, each
// for 2 s from 4 clients on loopback, and logs the figures (speed is
// measured here, not asserted): A queries for one name without DO
// (unsigned, through the chain), with DO (signed; the signature comes from
// the dnssec plugin's cache), and with DO for names that do not exist, a
// new name each time (every reply a new NSEC black lie, signed anew: what
// a random-subdomain flood costs). It checks that every run got replies,
// and that a reply before the runs is signed and one after is a signed
// NODATA.
func TestDNSSECCost(t *testing.T) {
	key := e2eutil.NewDNSSECKey(t, t.TempDir(), "example.com.")
	s := startDemoWith(t, withDNSSEC(key)...)
	if r, err := e2eutil.ExchangeDO(s.DNS, dnssecNgx, dns.TypeA, "81.0.0.0/24"); err != nil || countType(r, dns.TypeRRSIG) == 0 {
		t.Fatalf("no signed answer: %v %v", err, r)
	}
	random := make([][]byte, 40000)
	for i := range random {
		random[i] = packQuery(fmt.Sprintf("x%d.nosuch.default.myfederation.svc.example.com.", i), true)
	}
	for _, run := range []struct {
		name    string
		queries [][]byte
		nodata  bool // replies are NODATA (black lies): counted from Load's Bad
	}{
		{"one name, no DO (unsigned)", [][]byte{packQuery(dnssecNgx, false)}, false},
		{"one name, DO (signature cached)", [][]byte{packQuery(dnssecNgx, true)}, false},
		{"a new nonexistent name each query, DO (signed anew)", random, true},
	} {
		res := e2eutil.Load(s.DNS, run.queries, 4, 2*time.Second)
		replies := res.QPS
		if run.nodata {
			replies = float64(res.Bad) / 2
		}
		t.Logf("%s: %.0f replies/s, %d lost, %d not NOERROR with answers", run.name, replies, res.Lost, res.Bad)
		if replies == 0 {
			t.Errorf("%s: no replies", run.name)
		}
	}
	if r, err := e2eutil.ExchangeDO(s.DNS, "y.nosuch.default.myfederation.svc.example.com.", dns.TypeA, ""); err != nil || r.Rcode != dns.RcodeSuccess || countType(r, dns.TypeNSEC) == 0 {
		t.Errorf("after the load, a nonexistent name: %v, want a signed NODATA:\n%v", err, r)
	}
	t.Logf("dnssec metrics after the runs:\n%s", grepLines(s.Scrape(t), "coredns_dnssec_"))
}

// packQuery packs an A query for name with EDNS (1232 bytes), the DO bit
// as do says, and no client subnet.
func packQuery(name string, do bool) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(1232, do)
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

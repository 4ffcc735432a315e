package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// typeUnknown is a private-use type (RFC 6895) no server knows.
const typeUnknown = 65280

// allTypes are the query types asked at every name.
var allTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeTXT, dns.TypeSRV, dns.TypeMX, dns.TypeANY, typeUnknown}

// addrTypes are the types asked through Unbound at every name; the full
// list is asked at the names of fullLevels.
var addrTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME}

// fullLevels get every type through Unbound: the global name, the regions
// and zones where the states differ (echo loses IPv6 in us-central1, nginx
// falls back in us-central1-b and asia-east1, echo has hostnames in
// asia-east1); europe-west1 changes only when every level fails open.
var fullLevels = []string{"", "us-central1.", "asia-east1.", "us-central1-b.us-central1.", "asia-east1-a.asia-east1."}

// queryOrder is one order of asking a fresh Unbound: clients, then names,
// then types at each name. reverse also turns the clients and names round.
type queryOrder struct {
	name    string
	types   []uint16
	reverse bool
}

var queryOrders = []queryOrder{
	{"forward", allTypes, false},
	{"reverse", []uint16{typeUnknown, dns.TypeANY, dns.TypeMX, dns.TypeSRV, dns.TypeTXT, dns.TypeCNAME, dns.TypeAAAA, dns.TypeA}, true},
	{"AAAA first", []uint16{dns.TypeAAAA, dns.TypeTXT, dns.TypeA, dns.TypeMX, dns.TypeCNAME, dns.TypeSRV, dns.TypeANY, typeUnknown}, false},
	{"CNAME first", []uint16{dns.TypeCNAME, dns.TypeSRV, dns.TypeAAAA, dns.TypeANY, dns.TypeA, typeUnknown, dns.TypeTXT, dns.TypeMX}, true},
}

// unboundMode is how Unbound meets the authority.
type unboundMode struct {
	name    string
	noECS   bool     // UnboundConfig.NoECS
	clients []string // the client subnets the queries carry ("": none)
	orders  int      // how many of queryOrders, from the first
}

// unboundModes: with the clients' subnets forwarded (subnetcache keeps a
// reply per question and scope), and without ECS (the authority sees
// Unbound's 127.0.0.1, a client it cannot place, and every reply lands in
// the regular cache, where Unbound answers any type at a name from a
// cached CNAME).
//
// With three clients the ECS mode asks three times as many questions per
// order: it runs the first three orders, to keep the test within a minute
// or so on a busy 2-core machine.
var unboundModes = []unboundMode{
	{"ECS", false, demoClients, 3},
	{"no ECS", true, []string{""}, len(queryOrders)},
}

// lbZone answers, inside Unbound and nowhere else, every load-balancer
// hostname the demo's CNAMEs leave the zone for, so that Unbound completes
// those chains without any traffic beyond loopback.
const lbZone = `$ORIGIN lb.example.net.
@ 30 IN SOA ns.lb.example.net. hostmaster.lb.example.net. 1 3600 600 86400 30
@ 30 IN NS ns.lb.example.net.
* 30 IN A 203.0.113.254
* 30 IN AAAA 2001:db8:ff::254
`

// TestUnbound checks, in every state of demoStates, that answers a caching
// resolver can trust come from the real binary:
//
//   - the CNAME rule, asked of the authority directly: at each name, for
//     each client, every query type's reply starts with the same CNAME at
//     the question name (and a CNAME query gets it alone), or none does;
//     no reply holds a CNAME and other data at the CNAME's owner.
//   - a real Unbound (subnetcache on) in front of it, in each of
//     unboundModes, asked in each of queryOrders from an empty cache:
//     every reply equals the authority's direct reply to the same question
//     and ECS: the same rcode and the same answer records owned inside
//     example.com (the CNAME chain and the final RRset), TTLs and order
//     aside; an ANY reply may hold any of the records the authority gives
//     at the name (see agree). The authority has no data outside its
//     zone; where its chain leaves the zone (a load-balancer hostname),
//     Unbound's records past that point come from its own copy of
//     lb.example.net (lbZone), must hang off the chain's last target, and
//     are not compared further.
//
// The expected answers are the authority's own, asked before Unbound runs;
// the A, AAAA and CNAME answers, which carry the state, are asked again
// afterwards and must not have changed.
func TestUnbound(t *testing.T) {
	for _, st := range demoStates() {
		t.Run(st.name, func(t *testing.T) {
			s := startState(t, st)
			before := s.snapshot(t, stateQuestions(allTypes))
			t.Run("CNAME rule", func(t *testing.T) { checkCNAMERule(t, before) })
			t.Run("through Unbound", func(t *testing.T) {
				if e2eutil.UnboundBinary() == "" {
					e2eutil.RequireRealParts(t, "unbound is not installed (hack/install-tools.sh installs it)")
				}
				throughUnbound(t, s, before)
			})
			for q, a := range s.snapshot(t, stateQuestions(addrTypes)) {
				if x, y := reduce(before[q]), reduce(a); x != y {
					t.Errorf("%v: the authority's answer changed during the test:\n%s\nthen\n%s", q, x, y)
				}
			}
		})
	}
}

// unboundRun is one fresh Unbound asked every question in one mode and
// order, and what it answered.
type unboundRun struct {
	mode     unboundMode
	order    queryOrder
	u        *e2eutil.Unbound
	asked    int
	findings []string
	err      error
}

// throughUnbound starts an Unbound per mode and order, asks them all at
// once (each its questions one after another) and reports every reply that
// differs from the authority's in want.
func throughUnbound(t *testing.T, s *server, want map[question]*dns.Msg) {
	var runs []*unboundRun
	for _, m := range unboundModes {
		for _, o := range queryOrders[:m.orders] {
			u := e2eutil.StartUnbound(t, e2eutil.UnboundConfig{
				Zone: "example.com.", Authority: s.DNS, NoECS: m.noECS,
				Local: map[string]string{"lb.example.net.": lbZone},
			})
			runs = append(runs, &unboundRun{mode: m, order: o, u: u})
		}
	}
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Go(func() { run.ask(want) })
	}
	wg.Wait()
	for _, run := range runs {
		what := run.mode.name + ", order " + run.order.name
		if run.err != nil {
			t.Errorf("%s, query %d: %v", what, run.asked, run.err)
			continue
		}
		for i, f := range run.findings {
			if i == 10 {
				break
			}
			t.Errorf("%s, %s", what, f)
		}
		if n := len(run.findings); n > 0 {
			t.Errorf("%s: %d of %d replies through Unbound differ from the authority's", what, n, run.asked)
		}
		t.Logf("%s: %d queries through Unbound", what, run.asked)
	}
}

// ask asks the run's Unbound its questions in order and compares each
// reply with the authority's answer in want.
func (run *unboundRun) ask(want map[question]*dns.Msg) {
	for _, q := range orderedQuestions(run.mode, run.order) {
		run.asked++
		r, err := run.u.Exchange(q.name, q.qtype, q.client)
		if err != nil { // once more: a loaded machine may hold a reply past the client's timeout
			r, err = run.u.Exchange(q.name, q.qtype, q.client)
		}
		if err != nil {
			run.err = err
			return
		}
		if why := agree(q, want, r); why != "" {
			run.findings = append(run.findings, fmt.Sprintf("query %d, %v: %s\nauthority:\n%s\nunbound:\n%s",
				run.asked, q, why, reduce(want[q]), reduce(r)))
		}
	}
}

// orderedQuestions are the questions of mode m in order o: for each
// client, each name, the types of o (only addrTypes at names outside
// fullLevels).
func orderedQuestions(m unboundMode, o queryOrder) []question {
	names, full := stateNames()
	clients := slices.Clone(m.clients)
	if o.reverse {
		slices.Reverse(names)
		slices.Reverse(clients)
	}
	var qs []question
	for _, c := range clients {
		for _, n := range names {
			for _, qt := range o.types {
				if full[n] || slices.Contains(addrTypes, qt) {
					qs = append(qs, question{n, qt, c})
				}
			}
		}
	}
	return qs
}

// agree returns "" when the resolver's reply r to q gives the answer the
// authority gave (want[q]), else why not. See TestUnbound for what is
// compared. An ANY reply may hold any records the authority gives at the
// name to the same client, for any type: a cache answers ANY with what
// it holds (RFC 8482), not with the authority's HINFO.
func agree(q question, want map[question]*dns.Msg, r *dns.Msg) string {
	a := want[q]
	if r.Rcode != a.Rcode {
		return fmt.Sprintf("rcode %s, the authority's %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[a.Rcode])
	}
	ain, aout := split(a)
	rin, rout := split(r)
	if len(aout) > 0 {
		return fmt.Sprintf("the authority answered outside its zone: %v", aout)
	}
	if q.qtype == dns.TypeANY {
		ain = nil
		for _, qt := range allTypes {
			in, _ := split(want[question{q.name, qt, q.client}])
			ain = append(ain, in...)
		}
		for _, rr := range rin {
			if !slices.Contains(ain, rr) {
				return "a record the authority gives this client for no type: " + rr
			}
		}
	} else if !slices.Equal(ain, rin) {
		return "different answer records in the zone"
	}
	if len(rout) == 0 {
		return ""
	}
	last := chainEnd(q.name, r)
	for _, rr := range r.Answer {
		if owner := strings.ToLower(rr.Header().Name); !inZone(owner) && (owner != last || !dns.IsSubDomain("lb.example.net.", owner)) {
			return fmt.Sprintf("record %s is not at the chain's end %s in lb.example.net", rr, last)
		}
	}
	return ""
}

// chainEnd follows the CNAMEs of m's answer from name and returns the last
// target, lower-cased.
func chainEnd(name string, m *dns.Msg) string {
	name = strings.ToLower(name)
	for range len(m.Answer) + 1 {
		next := ""
		for _, rr := range m.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
				next = strings.ToLower(c.Target)
			}
		}
		if next == "" {
			break
		}
		name = next
	}
	return name
}

// inZone reports whether a lower-cased owner name is in example.com.
func inZone(owner string) bool { return dns.IsSubDomain("example.com.", owner) }

// split returns m's answer records owned inside and outside example.com,
// each as sorted "owner type rdata" lines, with no TTL.
func split(m *dns.Msg) (in, out []string) {
	for _, rr := range m.Answer {
		h := rr.Header()
		owner := strings.ToLower(h.Name)
		line := owner + " " + dns.Type(h.Rrtype).String() + " " + strings.TrimPrefix(rr.String(), h.String())
		if inZone(owner) {
			in = append(in, line)
		} else {
			out = append(out, line)
		}
	}
	slices.Sort(in)
	slices.Sort(out)
	return in, out
}

// reduce is m's rcode and answer records as compared, for messages.
func reduce(m *dns.Msg) string {
	if m == nil {
		return "  (no reply)"
	}
	in, out := split(m)
	lines := append([]string{dns.RcodeToString[m.Rcode]}, append(in, out...)...)
	return "  " + strings.Join(lines, "\n  ")
}

// checkCNAMERule checks the authority's replies at each name of stateNames
// for each client (see TestUnbound), and reports the first findings and
// their count.
func checkCNAMERule(t *testing.T, replies map[question]*dns.Msg) {
	names, _ := stateNames()
	var findings []string
	for _, c := range append(slices.Clone(demoClients), "") {
		for _, n := range names {
			findings = append(findings, cnameRule(replies, n, c)...)
		}
	}
	for i, f := range findings {
		if i == 25 {
			break
		}
		t.Error(f)
	}
	if len(findings) > 0 {
		t.Errorf("%d findings against the CNAME rule", len(findings))
	}
}

// cnameRule returns how the replies at name n for client c break the
// CNAME rule: a CNAME for some types and not others, a different CNAME for
// different types, a CNAME query answered with more than the CNAME, a
// CNAME beside other data at its owner.
func cnameRule(replies map[question]*dns.Msg, n, c string) []string {
	var findings, with, without []string
	cnames := map[string]bool{}
	for _, qt := range allTypes {
		q := question{n, qt, c}
		r := replies[q]
		if why := cnameBeside(r); why != "" {
			findings = append(findings, fmt.Sprintf("%v: %s:\n%s", q, why, reduce(r)))
		}
		if len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeCNAME || !strings.EqualFold(r.Answer[0].Header().Name, n) {
			without = append(without, fmt.Sprintf("%s (%s)", dns.Type(qt), brief(r)))
			continue
		}
		with = append(with, dns.Type(qt).String())
		cnames[r.Answer[0].(*dns.CNAME).Target] = true
		if qt == dns.TypeCNAME && len(r.Answer) != 1 {
			findings = append(findings, fmt.Sprintf("%v: a CNAME query answered with more than the CNAME:\n%s", q, reduce(r)))
		}
	}
	if len(with) > 0 && len(without) > 0 {
		findings = append(findings, fmt.Sprintf("%s from %s: a CNAME for %v but not for %v", n, clientName(c), with, without))
	}
	if len(cnames) > 1 {
		findings = append(findings, fmt.Sprintf("%s from %s: CNAMEs to different targets by type: %v", n, clientName(c), slices.Sorted(maps.Keys(cnames))))
	}
	return findings
}

// cnameBeside returns why m holds a CNAME and other data (or a second
// CNAME) at one owner in its answer, or "".
func cnameBeside(m *dns.Msg) string {
	for _, rr := range m.Answer {
		if rr.Header().Rrtype != dns.TypeCNAME {
			continue
		}
		for _, other := range m.Answer {
			if other != rr && strings.EqualFold(other.Header().Name, rr.Header().Name) {
				return fmt.Sprintf("%s beside the CNAME at %s", dns.Type(other.Header().Rrtype), rr.Header().Name)
			}
		}
	}
	return ""
}

// brief is a reply in a few words: its rcode, NODATA, or its answer's
// record types.
func brief(m *dns.Msg) string {
	if m.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[m.Rcode]
	}
	if len(m.Answer) == 0 {
		return "NODATA"
	}
	var types []string
	for _, rr := range m.Answer {
		types = append(types, dns.Type(rr.Header().Rrtype).String())
	}
	return strings.Join(types, " ")
}

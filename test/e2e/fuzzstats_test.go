package e2e

import (
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// fuzzStats counts what one transport sent and got back.
type fuzzStats struct {
	sent, conns, replies                      int
	unparsed, badID, badQuestion, notResponse int
	servfailAsked                             int // SERVFAIL to a query with a question
	rcodes                                    map[string]int
	examples                                  []string // the first bad replies, with their queries
}

func newFuzzStats() *fuzzStats { return &fuzzStats{rcodes: map[string]int{}} }

func (st *fuzzStats) add(o *fuzzStats) {
	st.sent += o.sent
	st.conns += o.conns
	st.replies += o.replies
	st.unparsed += o.unparsed
	st.badID += o.badID
	st.badQuestion += o.badQuestion
	st.servfailAsked += o.servfailAsked
	st.notResponse += o.notResponse
	for k, v := range o.rcodes {
		st.rcodes[k] += v
	}
	for _, e := range o.examples {
		if len(st.examples) < 5 {
			st.examples = append(st.examples, e)
		}
	}
}

func (st *fuzzStats) byRcode() string {
	var out []string
	for k, v := range st.rcodes {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// reply checks one reply b to query q (nil when no query of the
// exchange carries b's ID): it must parse, be a response, carry q's ID,
// and, when q parsed, carry q's question or none (and none only when it
// is an error other than NXDOMAIN). checkID false skips the ID and
// question checks (a TCP stream out of step after a lying length).
func (st *fuzzStats) reply(q, b []byte, checkID bool) {
	st.replies++
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		st.unparsed++
		st.example("reply does not parse (%v): query %x reply %x", err, q, b)
		return
	}
	rcode := dns.RcodeToString[m.Rcode]
	if m.Rcode == dns.RcodeBadVers && m.IsEdns0() != nil {
		rcode = "BADVERS" // 16 is BADSIG only in a TSIG record
	}
	st.rcodes[rcode]++
	if !m.Response {
		st.notResponse++
		st.example("reply without QR: query %x reply %v", q, m)
	}
	if !checkID {
		return
	}
	if q == nil {
		st.badID++
		st.example("reply with an ID no query had: %v", m)
		return
	}
	qm := new(dns.Msg)
	if qm.Unpack(q) != nil {
		return
	}
	if m.Rcode == dns.RcodeServerFailure && len(qm.Question) > 0 {
		st.servfailAsked++
	}
	switch {
	case len(m.Question) == 0 && (m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError):
		st.badQuestion++
		st.example("%s reply without the question: query %x %v reply %v", dns.RcodeToString[m.Rcode], q, qm, m)
	case len(m.Question) > 0 && fmt.Sprint(m.Question) != fmt.Sprint(qm.Question):
		st.badQuestion++
		st.example("reply question %v, query's %v: query %x", m.Question, qm.Question, q)
	}
}

func (st *fuzzStats) example(format string, a ...any) {
	if len(st.examples) < 5 {
		st.examples = append(st.examples, fmt.Sprintf(format, a...))
	}
}

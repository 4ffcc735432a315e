// Package authority is Meridian's authoritative role: it answers the
// federated zone from the current snapshot, for the client the query
// names (ECS) or comes from. It writes replies; what they name comes from
// the pure logic of package answer.
package authority

import (
	"context"
	"net/netip"
	"sync/atomic"

	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/model"
)

// Config is what the authoritative role reads of the Corefile.
type Config struct {
	// Federation is the federation name, the label before "svc".
	Federation string
	// Nameservers are the apex NS records, with their glue addresses.
	Nameservers []Nameserver
	// Hostmaster is the SOA RNAME, as a domain name; "" is hostmaster.<zone>.
	Hostmaster string
	// TTL is the TTL of positive answers, in seconds.
	TTL uint32
	// DegradedTTL is the TTL of positive answers for a degraded service
	// (some shard not usable, or a fail-open answer); the lower of it and
	// TTL is used.
	DegradedTTL uint32
	// NegativeTTL is the SOA MINIMUM and so the TTL of negative answers.
	NegativeTTL uint32
	// Answer holds the answer settings that are not per service.
	Answer answer.Options
}

// Nameserver is one NS record at the apex and its glue.
type Nameserver struct {
	Name  string       // fully qualified, lower case
	Addrs []netip.Addr // glue; served as A/AAAA when Name is in the zone
}

// Snapshots gives the current snapshot (the pipeline does).
type Snapshots interface {
	Snapshot() *model.Snapshot
}

// Authority answers queries in the federated zones.
type Authority struct {
	cfg     *Config
	snaps   Snapshots
	loc     answer.Locator
	metrics Metrics
	seq     atomic.Uint64 // counts answers chosen, for the roundrobin policy
	// random draws a query's random number (weighted picks, spill); nil
	// means math/rand/v2. Tests set it to replay the same draw for every
	// query type.
	random func() uint64
}

// New returns the authoritative role for cfg, answering from snaps and
// locating clients with loc; m counts answers (nil: not counted).
func New(cfg *Config, snaps Snapshots, loc answer.Locator, m Metrics) *Authority {
	if m == nil {
		m = nopMetrics{}
	}
	return &Authority{cfg: cfg, snaps: snaps, loc: loc, metrics: m}
}

// SetRandom makes f draw every query's random number; nil is math/rand/v2.
// For tests that replay one draw.
func (au *Authority) SetRandom(f func() uint64) { au.random = f }

// SetSeq sets the roundrobin counter, which the next answer that reads it
// advances by one. For tests that replay one draw.
func (au *Authority) SetSeq(n uint64) { au.seq.Store(n) }

// Serve writes the reply to q: from the current snapshot, or SERVFAIL
// before the first one.
//
// When w is a Tracer, the decision is recorded in its Trace as well
// (explain), from the snapshot the Trace names if it names one.
func (au *Authority) Serve(_ context.Context, w dns.ResponseWriter, q dnsmsg.Query) {
	var tr *Trace
	if t, ok := w.(Tracer); ok {
		tr = t.Trace()
	}
	snap := au.snaps.Snapshot()
	if tr != nil {
		if tr.Snapshot != nil {
			snap = tr.Snapshot
		}
		tr.Snapshot = snap
	}
	if snap == nil {
		dnsmsg.Fail(w, q.Req, dns.RcodeServerFailure)
		return
	}
	a := &answerer{au: au, cfg: au.cfg, snap: snap, req: q.Req, zone: q.Zone, qname: dnsmsg.Lower(q.Req.Question[0].Name), client: q.Client, ttl: au.cfg.TTL, metrics: au.metrics}
	if tr != nil {
		a.tr, a.metrics = tr, nopMetrics{}
	}
	resp := a.respond()
	if tr != nil {
		tr.TTL, tr.Scope = a.ttl, a.scope
	}
	if q.OPT != nil {
		resp.Extra = append(resp.Extra, a.ReplyOPT(q.OPT, q.ECS, a.scope))
	}
	if dnsmsg.HasAdditional(resp) {
		state := request.Request{W: w, Req: q.Req}
		dnsmsg.Fit(resp, state.Size())
	}
	w.WriteMsg(resp)
}

package authority

import (
	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/model"
)

// Trace is what one answer decided, recorded by the code that writes the
// reply: explain passes a ResponseWriter that is a Tracer through the
// plugin's ServeDNS, so what it reports is what a query gets, by the same
// code. Fields are left zero where the answer did not get that far.
type Trace struct {
	// Snapshot is the snapshot answered from. A Tracer may set it before
	// the query to pin one; otherwise Serve sets the current one.
	Snapshot *model.Snapshot
	// What says what the name is, as the answer found it.
	What What
	// Name is the question's name, parsed (answer.HostName for a host).
	Name answer.Name
	// Service is the service or host the name names, nil for other names.
	Service *model.Service
	// Chain is the fall-back chain followed: the question's name first,
	// then each name one level up that the one before is a CNAME to;
	// Owners are their names in the zone.
	Chain  []answer.Name
	Owners []string
	// Query is the query of the last name of the chain: its level, the
	// client's location (for the global level), and the draws (Rand, Seq).
	Query answer.Query
	// Decision is what the last name holds for this client (answer.Decide),
	// and ByFamily the shards chosen for an A (V4) or AAAA (V6) question
	// when they are chosen apart from it (answer.Shared is false). Their
	// Shards are copies.
	Decision answer.Result
	ByFamily map[answer.Family]answer.Result
	// TTL is the TTL of positive records, Scope the ECS scope of the reply.
	TTL   uint32
	Scope uint8
}

// What is the kind of name an answer found.
type What uint8

// The kinds of names.
const (
	WhatNone       What = iota // no snapshot yet: SERVFAIL
	WhatNXDomain               // no such name
	WhatNode                   // an empty non-terminal: NODATA
	WhatApex                   // the zone's apex
	WhatNameserver             // a nameserver's name, or a name above it
	WhatService                // a federated service's name, or SRV name
	WhatHost                   // a host of Ingresses or routes
)

// String returns the kind as explain reports it.
func (w What) String() string {
	return [...]string{"none", "nxdomain", "empty_non_terminal", "apex", "nameserver", "service", "host"}[w]
}

// Tracer is a dns.ResponseWriter that asks for the answer's Trace. The
// answer is then counted in no metric and does not advance the roundrobin
// counter: it is the answer the next query would get with the same draw.
type Tracer interface {
	Trace() *Trace
}

// trace records the chain of hops names from nm (answer.Follow's) and
// the decision at its end; a no-op without a trace.
func (a *answerer) trace(svc *model.Service, nm answer.Name, hops int, q *answer.Query, d *answer.Result) {
	if a.tr == nil {
		return
	}
	a.tr.Service, a.tr.Query, a.tr.Decision = svc, *q, copyResult(d)
	owner := a.req.Question[0].Name
	for i := range hops {
		if i > 0 {
			nm = nm.Up()
			owner = nm.Format(a.cfg.Federation, a.zone)
		}
		a.tr.Chain = append(a.tr.Chain, nm)
		a.tr.Owners = append(a.tr.Owners, owner)
	}
}

// traceFamily records the shards chosen apart for one family.
func (a *answerer) traceFamily(f answer.Family, res *answer.Result) {
	if a.tr == nil {
		return
	}
	if a.tr.ByFamily == nil {
		a.tr.ByFamily = map[answer.Family]answer.Result{}
	}
	a.tr.ByFamily[f] = copyResult(res)
}

// copyResult copies r field by field: copying *r whole would make the
// caller's stack buffer of shards escape to the heap on every query.
func copyResult(r *answer.Result) answer.Result {
	shards := make([]*model.Shard, len(r.Shards))
	copy(shards, r.Shards)
	return answer.Result{Shards: shards, Up: r.Up, FailOpen: r.FailOpen, Dependent: r.Dependent,
		Spilled: r.Spilled, Policy: r.Policy, Alias: r.Alias}
}

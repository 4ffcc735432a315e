package authority

import (
	"math/rand/v2"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// Metrics counts what answers name (the plugin's Prometheus counters).
type Metrics interface {
	// Answered counts an answer whose first shard is in cluster, chosen
	// by policy p.
	Answered(cluster string, p policy.Kind)
	// Fallback counts a name of level l that fell back one level up.
	Fallback(l answer.Level)
	// FailOpen counts an answer that failed open, for a service of policy p.
	FailOpen(p policy.Kind)
	// Spilled counts an answer the spill option moved to cluster.
	Spilled(cluster string)
}

type nopMetrics struct{}

func (nopMetrics) Answered(string, policy.Kind) {}
func (nopMetrics) Fallback(answer.Level)        {}
func (nopMetrics) FailOpen(policy.Kind)         {}
func (nopMetrics) Spilled(string)               {}

// answerer answers one query from one snapshot. It is allocated once per
// query and holds room for the records of a common reply (the arena), so
// that a typical answer costs one allocation.
type answerer struct {
	au     *Authority
	cfg    *Config
	snap   *model.Snapshot
	req    *dns.Msg
	zone   string       // the zone the query is in, lower case
	qname  string       // the query name, lower case
	client netip.Prefix // ECS source prefix or source address
	scope  uint8        // ECS scope of the reply
	ttl    uint32       // TTL of positive records: lower while the service is degraded
	// metrics counts the answer: the Authority's, or none for a traced one.
	metrics Metrics
	tr      *Trace // nil unless the writer is a Tracer
	sloc    scopedLocator

	dnsmsg.Arena
}

// reply starts the reply: SetReply's header, sharing the question.
func (a *answerer) reply() *dns.Msg { return a.Reply(a.req) }

// respond builds the reply to a query that is in the zone.
func (a *answerer) respond() *dns.Msg {
	resp := a.reply()
	q := a.req.Question[0]
	what, nm, svc, ns := a.lookup()
	a.found(what, nm)
	switch what {
	case WhatNameserver:
		return a.nameserverReply(resp, ns)
	case WhatHost, WhatService:
		a.service(resp, q.Name, q.Qtype, nm, svc)
		return resp
	case WhatNXDomain:
		return a.negative(resp, dns.RcodeNameError)
	case WhatApex:
		return a.apex(resp)
	}
	return a.negative(resp, dns.RcodeSuccess) // an empty non-terminal, ANY too
}

// lookup finds what the query's name is in the snapshot: a nameserver
// name of the zone (ns, or nil for a name between it and the zone), a
// service or SRV name (svc), a host (svc, the host's service), the apex,
// a node with nothing at it, or no name. The federation's names come
// first: a host never shadows them.
func (a *answerer) lookup() (what What, nm answer.Name, svc *model.Service, ns *Nameserver) {
	if ns, ent := a.nameserver(); ns != nil || ent {
		return WhatNameserver, answer.Name{}, nil, ns
	}
	nm = answer.Parse(a.qname, a.zone, a.cfg.Federation)
	svc, ok := answer.Find(a.snap, nm)
	if !ok {
		switch h, found := answer.FindHost(a.snap, a.qname); {
		case h != nil:
			return WhatHost, answer.HostName, h, nil
		case found:
			return WhatNode, answer.Name{}, nil, nil // between a host and the zone
		}
	}
	switch {
	case !ok:
		return WhatNXDomain, nm, nil, nil
	case nm.Kind == answer.Apex:
		return WhatApex, nm, svc, nil
	case nm.Kind == answer.Service, nm.Kind == answer.SRV:
		return WhatService, nm, svc, nil
	}
	return WhatNode, nm, nil, nil
}

// found records what the name is in the trace, if any.
func (a *answerer) found(w What, nm answer.Name) {
	if a.tr != nil {
		a.tr.What, a.tr.Name = w, nm
	}
}

// service answers for a service or SRV name. What the name holds is
// decided once for the client, whatever the query type, and the fall-back
// chain within the zone (zone -> region -> global) followed, by
// answer.Follow: a CNAME one level up, a CNAME to a load-balancer
// hostname, or records. A CNAME or ANY question gets the first CNAME
// alone. A name that holds records but none of the type gets NODATA, after
// the chain if there is one.
func (a *answerer) service(resp *dns.Msg, owner string, qtype uint16, nm answer.Name, svc *model.Service) {
	var buf [8]*model.Shard
	var q answer.Query
	hops, d := a.follow(svc, nm, &q, buf[:0])
	for range hops - 1 {
		a.metrics.Fallback(nm.Level)
		nm = nm.Up()
		up := nm.Format(a.cfg.Federation, a.zone)
		resp.Answer = append(resp.Answer, dnsmsg.CNAME(owner, up, a.ttl))
		if qtype == dns.TypeCNAME || qtype == dns.TypeANY {
			return
		}
		owner = up
	}
	a.depends(&d, &q.Loc)
	if d.Alias {
		a.count(svc, &d)
		resp.Answer = append(resp.Answer, dnsmsg.CNAME(owner, d.Shards[0].Hostname, a.ttl))
		return
	}
	n := len(resp.Answer)
	a.records(resp, owner, qtype, &nm, svc, &q, &d)
	if len(resp.Answer) == n {
		resp.Ns = []dns.RR{a.soa(a.zone)} // NODATA (RFC 2308 2.2)
	}
}

// follow decides the service or SRV name nm for the client, with q's
// draws made here, and follows its fall-back chain (answer.Follow, with
// buf as room for the shards); the TTL is lowered while the service is
// degraded.
func (a *answerer) follow(svc *model.Service, nm answer.Name, q *answer.Query, buf []*model.Shard) (hops int, d answer.Result) {
	if svc.Degraded || a.snap.Partitioned {
		// Every fail-open answer is degraded too: no shard is usable.
		// While partitioned, every answer comes from the clusters' last
		// state.
		a.ttl = min(a.ttl, a.cfg.DegradedTTL)
	}
	a.draw(svc, q)
	a.sloc = scopedLocator{a.au.loc, a.snap.Locations}
	hops, d = answer.Follow(svc, nm, q, &a.cfg.Answer, &a.sloc, a.client, buf)
	a.trace(svc, nm, hops, q, &d)
	return hops, d
}

// scopedLocator locates clients for one snapshot: through
// geo.Locator.LocateIn when the locator has it, so that the scope widens
// only with a table built for the snapshot's locations.
type scopedLocator struct {
	l    answer.Locator
	locs []geo.Point
}

// locatorIn is geo.Locator's LocateIn.
type locatorIn interface {
	LocateIn(netip.Prefix, []geo.Point) geo.Location
}

func (s *scopedLocator) Locate(p netip.Prefix) geo.Location {
	if li, ok := s.l.(locatorIn); ok {
		return li.LocateIn(p, s.locs)
	}
	return s.l.Locate(p)
}

// draw makes the query's per-query choices into q. Only what the policy
// reads is drawn: the shared counter is a contended cache line on a busy
// server, and closest answers need neither.
func (a *answerer) draw(svc *model.Service, q *answer.Query) {
	switch p := &svc.Policy; {
	case p.Kind == policy.RoundRobin && a.tr != nil:
		q.Seq = a.au.seq.Load() + 1 // the next query's turn, not taken
	case p.Kind == policy.RoundRobin:
		q.Seq = a.au.seq.Add(1)
	case p.Kind == policy.Weighted || p.Spill > 0:
		q.Rand = rand.Uint64()
		if a.au.random != nil {
			q.Rand = a.au.random()
		}
	}
}

// depends sets the reply's ECS scope to the client's located network when
// res depends on where the client is.
func (a *answerer) depends(res *answer.Result, loc *geo.Location) {
	if res.Dependent {
		a.scope = uint8(loc.Scope)
	}
}

// count records an answer that names res's shards in the metrics.
func (a *answerer) count(svc *model.Service, res *answer.Result) {
	switch {
	case len(res.Shards) == 0:
		return
	case res.FailOpen:
		a.metrics.FailOpen(svc.Policy.Kind)
	case res.Spilled:
		a.metrics.Spilled(res.Shards[0].Cluster.Name)
	}
	a.metrics.Answered(res.Shards[0].Cluster.Name, res.Policy)
}

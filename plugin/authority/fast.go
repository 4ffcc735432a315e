package authority

import (
	"net/netip"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/fastpath"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// Fast answers for the UDP fast path (package fastpath): the common
// answer only, A or AAAA records at a service or host name that holds
// them for the client, decided by the same code as Serve's. Each socket
// goroutine has its own; it is not safe for concurrent use.
type Fast struct {
	a     answerer
	recs  fastpath.Records
	rdata [16][]byte
	buf   [8]*model.Shard
	fbuf  [8]*model.Shard
	// the query, its decision and its family's, kept here rather than on
	// the stack so that nothing escapes per query
	q    answer.Query
	d    answer.Result
	fres answer.Result
	// what Commit counts
	svc *model.Service
	res *answer.Result
}

// NewFast returns a fast-path answerer of au.
func (au *Authority) NewFast() *Fast {
	f := &Fast{}
	f.a.au, f.a.cfg = au, au.cfg
	return f
}

// Answer decides the answer to a query of qtype for qname (lower case,
// fully qualified) in zone, from client (the ECS source network, or the
// source address), and returns its records if it is one the fast path
// writes: A or AAAA (qtype) records at a service or host name (no CNAME,
// not the chain's fall-back, not a nameserver name), from a snapshot. ok
// false leaves the query to the chain, and then no answer was counted and
// no shared state changed: so a service of the roundrobin policy, whose
// draw advances a shared counter, is left to the chain before it is
// decided. (A query left after its client was located, a CNAME to a
// load-balancer hostname or NODATA, is counted twice by the locator's
// cache counters, once here and once by the chain.) qname may be a view of a buffer the caller reuses: nothing
// keeps it after Commit.
//
// Answer counts nothing; Commit counts the answer once it is written.
func (f *Fast) Answer(qname, zone string, qtype uint16, client netip.Prefix) (recs *fastpath.Records, ok bool) {
	if qtype != dns.TypeA && qtype != dns.TypeAAAA {
		return nil, false
	}
	au := f.a.au
	snap := au.snaps.Snapshot()
	if snap == nil {
		return nil, false
	}
	a := &f.a
	a.snap, a.zone, a.qname, a.client = snap, zone, qname, client
	a.scope, a.ttl, a.metrics, a.tr = 0, au.cfg.TTL, au.metrics, nil
	what, nm, svc, _ := a.lookup()
	if (what != WhatService && what != WhatHost) || nm.Kind == answer.SRV || svc.Policy.Kind == policy.RoundRobin {
		return nil, false
	}
	f.q = answer.Query{}
	var hops int
	hops, f.d = a.follow(svc, nm, &f.q, f.buf[:0])
	if hops != 1 || f.d.Alias {
		return nil, false
	}
	a.depends(&f.d, &f.q.Loc)
	res := a.family(svc, qtype, &f.q, &f.d, &f.fres, f.fbuf[:0])
	rd := f.rdata[:0]
	for _, sh := range res.Shards {
		for _, ip := range pickIP(sh, qtype) {
			if len(rd) == cap(rd) {
				return nil, false // more records than the room: the chain's
			}
			if qtype == dns.TypeA {
				ip = ip.To4()
			} else {
				ip = ip.To16()
			}
			rd = append(rd, ip)
		}
	}
	if len(rd) == 0 {
		return nil, false // NODATA
	}
	f.svc, f.res = svc, res
	f.recs = fastpath.Records{Rtype: qtype, TTL: a.ttl, Rdata: rd, Scope: a.scope}
	return &f.recs, true
}

// Commit counts the answer Answer returned last, as Serve counts it, once
// the fast path has written it.
func (f *Fast) Commit() {
	f.a.count(f.svc, f.res)
	f.svc, f.res, f.a.qname = nil, nil, ""
}

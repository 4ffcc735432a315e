package meridian

import (
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// answerer answers one query from one snapshot. It is allocated once per
// query and holds room for the records of a common reply (the arena), so
// that a typical answer costs one allocation.
type answerer struct {
	m      *Meridian
	snap   *model.Snapshot
	req    *dns.Msg
	zone   string       // the zone the query is in, lower case
	qname  string       // the query name, lower case
	client netip.Prefix // ECS source prefix or source address
	scope  uint8        // ECS scope of the reply

	loc     geo.Location
	located bool
	ttl     uint32 // TTL of positive records: lower while the service is degraded

	arena
}

// arena is room for one reply's records.
type arena struct {
	msg    dns.Msg
	answer [4]dns.RR
	extra  [2]dns.RR
	a      [2]dns.A
	aaaa   [2]dns.AAAA
	na     int
	naaaa  int
	optRoom
}

// optRoom is room for a reply's OPT record and its client-subnet option.
type optRoom struct {
	opt  dns.OPT
	ecs  dns.EDNS0_SUBNET
	opts [1]dns.EDNS0
}

func (ar *arena) newA() *dns.A {
	if ar.na < len(ar.a) {
		ar.na++
		return &ar.a[ar.na-1]
	}
	return new(dns.A)
}

func (ar *arena) newAAAA() *dns.AAAA {
	if ar.naaaa < len(ar.aaaa) {
		ar.naaaa++
		return &ar.aaaa[ar.naaaa-1]
	}
	return new(dns.AAAA)
}

// reply starts the reply: SetReply's header, sharing the question.
func (a *answerer) reply() *dns.Msg { return a.arena.reply(a.req) }

// reply starts an authoritative reply to r in the arena: SetReply's
// header, sharing the question, without allocating.
func (ar *arena) reply(r *dns.Msg) *dns.Msg {
	resp := &ar.msg
	resp.Id, resp.Response, resp.Opcode = r.Id, true, r.Opcode
	resp.RecursionDesired, resp.CheckingDisabled = r.RecursionDesired, r.CheckingDisabled
	resp.Authoritative = true
	resp.Question = r.Question[:1:1]
	resp.Answer, resp.Extra = ar.answer[:0], ar.extra[:0]
	return resp
}

// respond builds the reply to a query that is in the zone.
func (a *answerer) respond() *dns.Msg {
	resp := a.reply()
	q := a.req.Question[0]

	if ns, ent := a.nameserver(); ns != nil || ent {
		return a.nameserverReply(resp, ns)
	}
	nm := answer.Parse(a.qname, a.zone, a.m.cfg.Federation)
	switch {
	case !answer.Exists(a.snap, nm):
		return a.negative(resp, dns.RcodeNameError)
	case nm.Kind == answer.Apex:
		return a.apex(resp)
	case nm.Kind == answer.Service, nm.Kind == answer.SRV:
		a.service(resp, q.Name, q.Qtype, nm, answer.Lookup(a.snap, nm))
		return resp
	}
	return a.negative(resp, dns.RcodeSuccess) // an empty non-terminal, ANY too
}

// service answers for a service or SRV name. What the name holds is
// decided once for the client, whatever the query type (answer.Decide): a
// CNAME one level up, a CNAME to a load-balancer hostname, or records. A
// CNAME chain within the zone (zone -> region -> global) is followed as an
// authoritative server does (RFC 1034 4.3.2); a CNAME or ANY question gets
// the first CNAME alone. A name that holds records but none of the type
// gets NODATA, after the chain if there is one.
func (a *answerer) service(resp *dns.Msg, owner string, qtype uint16, nm answer.Name, svc *model.Service) {
	if svc.Degraded {
		// Every fail-open answer is degraded too: no shard is usable.
		a.ttl = min(a.ttl, a.m.cfg.DegradedTTL)
	}
	var buf [8]*model.Shard
	var q answer.Query
	a.draw(svc, &q)
	for {
		q.Level, q.Region, q.Zone, q.Loc = nm.Level, nm.Region, nm.Zone, geo.Location{}
		if nm.Level == answer.Global {
			q.Loc = a.locate()
		}
		d := answer.Decide(svc, &q, &a.m.cfg.Answer, nm.Kind == answer.SRV, buf[:0])
		if d.Up {
			a.m.metrics.fallback(nm.Level)
			up := upName(nm, a.m.cfg.Federation, a.zone)
			resp.Answer = append(resp.Answer, a.cname(owner, up))
			if qtype == dns.TypeCNAME || qtype == dns.TypeANY {
				return
			}
			owner, nm = up, upLevel(nm)
			continue
		}
		a.depends(&d, &q.Loc)
		if d.Alias {
			a.count(svc, &d)
			resp.Answer = append(resp.Answer, a.cname(owner, d.Shards[0].Hostname))
			return
		}
		n := len(resp.Answer)
		a.records(resp, owner, qtype, &nm, svc, &q, &d)
		if len(resp.Answer) == n {
			resp.Ns = []dns.RR{a.soa(a.zone)} // NODATA (RFC 2308 2.2)
		}
		return
	}
}

// draw makes the query's per-query choices into q. Only what the policy
// reads is drawn: the shared counter is a contended cache line on a busy
// server, and closest answers need neither.
func (a *answerer) draw(svc *model.Service, q *answer.Query) {
	switch p := &svc.Policy; {
	case p.Kind == policy.RoundRobin:
		q.Seq = a.m.seq.Add(1)
	case p.Kind == policy.Weighted || p.Spill > 0:
		q.Rand = rand.Uint64()
		if a.m.random != nil {
			q.Rand = a.m.random()
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
		a.m.metrics.failOpen(svc.Policy.Kind)
	case res.Spilled:
		a.m.metrics.spilled(res.Shards[0].Cluster.Name)
	}
	a.m.metrics.answered(res.Shards[0].Cluster.Name, res.Policy)
}

// locate finds the client once per query; a client that sent ECS /0 or
// has no usable address is of unknown location, with scope 0.
func (a *answerer) locate() geo.Location {
	if !a.located {
		a.located = true
		if a.client.IsValid() && a.client.Bits() > 0 {
			a.loc = a.m.locator.Locate(a.client)
		}
	}
	return a.loc
}

// upName is the name one level above nm (with its SRV prefix, if any).
func upName(nm answer.Name, fed, zone string) string {
	var b strings.Builder
	if nm.Kind == answer.SRV {
		b.WriteString("_" + nm.Port + "._" + nm.Proto + ".")
	}
	b.WriteString(nm.Service + "." + nm.Namespace + "." + fed + ".svc.")
	if nm.Level == answer.Zone {
		b.WriteString(nm.Region + ".")
	}
	b.WriteString(zone)
	return b.String()
}

func upLevel(nm answer.Name) answer.Name {
	nm.Level--
	if nm.Level == answer.Global {
		nm.Region = ""
	}
	nm.Zone = ""
	return nm
}

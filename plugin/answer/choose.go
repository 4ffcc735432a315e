package answer

import (
	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// Family is the address family a question asks for.
type Family uint8

// The families: Any for the shards with any address, a load-balancer
// hostname included (what a name holds, SRV, TXT); V4 and V6 for the shards
// with an IP address of that family (A and AAAA).
const (
	Any Family = iota
	V4
	V6
)

// Query is one question to answer for a service.
type Query struct {
	Level        Level
	Region, Zone string // for the Region and Zone levels
	Family       Family
	Loc          geo.Location
	Rand         uint64 // a random number drawn for this query: weighted picks and spill
	Seq          uint64 // grows by one per query: roundrobin
}

// Options are the Corefile's answer settings that are not per service.
type Options struct {
	// DefaultRegions orders regions for clients with no known location;
	// empty means clusters are taken in name order.
	DefaultRegions []string
}

// Result is what an answer names.
type Result struct {
	// Shards are the chosen shards, best first. Empty with Up false means
	// there is nothing to answer (NODATA).
	Shards []*model.Shard
	// Up is true when the level has no usable shard: the answer is a CNAME
	// to the same name one level up.
	Up bool
	// FailOpen is true when no shard was usable and every shard with an
	// address was named instead.
	FailOpen bool
	// Dependent is true when a client elsewhere could get another answer
	// from the same snapshot with the same Rand and Seq: the ECS scope must
	// then be the client's located network, else 0.
	Dependent bool
	// Spilled is true when the spill option moved the answer from the
	// degraded closest shard to the next-closest one.
	Spilled bool
	// Policy is the policy that chose: the service's, or Closest when the
	// service's could not (weighted with no usable shard of weight above
	// 0, failover with an empty list) and on fail-open.
	Policy policy.Kind
	// Alias, set by Decide only, is true when the name is a CNAME, for
	// every query type, to the load-balancer hostname of Shards[0]. (A
	// flag, not the hostname: a string field would make the caller's
	// buffer escape to the heap.)
	Alias bool
}

// Lookup returns the service nm names, or nil.
func Lookup(snap *model.Snapshot, nm Name) *model.Service {
	if nm.Service == "" {
		return nil
	}
	return snap.Services[model.Key{Namespace: nm.Namespace, Name: nm.Service}]
}

// Find reports whether nm names something in snap (records, a CNAME, or
// an empty non-terminal with a name below it) and returns the service a
// service or SRV name names (nil for other names), with one lookup.
func Find(snap *model.Snapshot, nm Name) (*model.Service, bool) {
	switch nm.Kind {
	case Unknown:
		return nil, false
	case Apex:
		return nil, true
	}
	if nm.Level >= Region && !snap.HasRegion(nm.Region) {
		return nil, false
	}
	if nm.Level == Zone && !snap.HasZone(nm.Region, nm.Zone) {
		return nil, false
	}
	switch {
	case nm.Namespace == "":
		return nil, len(snap.Services) > 0
	case nm.Service == "":
		_, ok := snap.Namespaces[nm.Namespace]
		return nil, ok
	}
	svc := Lookup(snap, nm)
	switch {
	case svc == nil:
		return nil, false
	case nm.Kind == SRV:
		return svc, svc.Port(nm.Port, nm.Proto)
	case nm.Kind == Node:
		return svc, svc.HasProto(nm.Proto)
	}
	return svc, true
}

// FindHost looks up qname (lower case, fully qualified) among the hosts of
// Ingresses and routes, for a name that Find does not know: an exact host;
// else a name between a host and its zone, which exists with no records
// (found, with a nil host); else the wildcard host one label above it, as
// a DNS wildcard does not match a name that exists (RFC 4592 2.2.1).
// The host's name is then the question's, at the global level. It does
// not allocate.
func FindHost(snap *model.Snapshot, qname string) (*model.Service, bool) {
	if h := snap.Hosts[qname]; h != nil {
		return h, true
	}
	if _, ok := snap.HostNodes[qname]; ok {
		return nil, true
	}
	if suffix, ok := hosts.WildcardSuffix(qname); ok {
		if h := snap.Wildcards[suffix]; h != nil {
			return h, true
		}
	}
	return nil, false
}

// HostName is the parsed name of every host: a host answers at the global
// level, like a federated Service's global name.
var HostName = Name{Kind: Host, Level: Global}

// Skip says why a shard is not a candidate of a query (Consider).
type Skip uint8

// The reasons, checked in this order.
const (
	// Candidate: the shard is a candidate; the policy decides whether it
	// is named.
	Candidate Skip = iota
	// NotUsable: the shard is not usable (model.Shard.Usable says why:
	// health, its cluster's state, or no load-balancer address).
	NotUsable
	// NoFamily: the shard has no address of the family asked.
	NoFamily
	// OtherLevel: the shard's cluster is not in the zone or region the
	// name asks about.
	OtherLevel
)

// String describes the reason for a person.
func (s Skip) String() string {
	switch s {
	case NotUsable:
		return "not usable"
	case NoFamily:
		return "no address of the family asked"
	case OtherLevel:
		return "outside the zone or region of the name"
	}
	return "candidate"
}

// Consider says whether sh is a candidate for q when answering family f,
// and if not why: the one rule the policies choose among, and that
// explain reports.
func Consider(sh *model.Shard, f Family, q *Query) Skip {
	switch {
	case !sh.Usable:
		return NotUsable
	case !fits(sh, f):
		return NoFamily
	case !inLevel(sh.Cluster, q):
		return OtherLevel
	}
	return Candidate
}

// fits reports whether sh can answer for family f: an address of the
// family, or any address (a hostname included) for Any.
func fits(sh *model.Shard, f Family) bool {
	switch f {
	case V4:
		return sh.HasV4()
	case V6:
		return sh.HasV6()
	}
	return sh.HasAddress()
}

// inLevel reports whether cluster c answers at q's level.
func inLevel(c *model.Cluster, q *Query) bool {
	switch q.Level {
	case Zone:
		return c.Region == q.Region && c.InZone(q.Zone)
	case Region:
		return c.Region == q.Region
	}
	return true
}

// Choose picks the shards of svc that answer q, best first, by the
// service's policy. buf is reused for the result's shards.
//
// The candidates are the usable shards that fit q.Family and, at the zone
// and region levels, are in q's zone or region. N is svc.Policy.Shards, at
// least 1. Rand and Seq make the only per-query choices; the client's
// location only orders shards by distance.
//
//	policy        global level                      zone and region levels
//	closest       the N closest candidates, spill   every candidate, name order
//	failover      N by list entry, then closest     N by list entry, then name order
//	weighted      N weighted picks by Rand          the same
//	roundrobin    N in name order from Seq mod M    the same
//	no candidate  fail-open: every shard with an    Up: CNAME to the name one
//	              address, closest first            level up
//
// M is the number of candidates. Fail-open ignores the policy.
//
// Closest orders by distance from the client; clusters equally far (the
// same region) are ordered by a hash of the client's network and the
// cluster name, so each client network sticks to one of them and the
// networks spread across all of them. A client with no known location gets
// o.DefaultRegions' order, then cluster name order. Spill: when the
// closest candidate is Degraded, a share svc.Policy.Spill of the queries
// (by Rand) swap the first two.
//
// Failover ranks a candidate by the first entry of svc.Policy.Failover
// that is its cluster's name or region; unlisted clusters come last.
// Weighted samples without replacement among the candidates whose
// svc.Policy.Weights are above 0, the first pick being the weighted pick;
// with none it answers as closest (Result.Policy says so). Roundrobin
// rotates the candidates in cluster-name order by Seq.
//
// Result.Dependent is true when the client's location can change the
// shards named or their order: at the global level only, for closest and
// fail-open with two candidates or more, and for failover when a list
// entry (or the unlisted rest) that the answer reaches holds two
// candidates or more.
func Choose(svc *model.Service, q Query, o Options, buf []*model.Shard) Result {
	return choose(svc, &q, q.Family, &o, buf)
}

// choose is Choose for the family f instead of q's, with q and o by
// reference: the answer path calls it twice a query, and copying the query
// each time showed in its profile.
func choose(svc *model.Service, q *Query, f Family, o *Options, buf []*model.Shard) Result {
	p := &svc.Policy
	res := Result{Shards: buf[:0], Policy: p.Kind}
	global := q.Level == Global
	// Closest and failover order by distance at the global level: rank as
	// candidates are collected. The zero ranker makes every key 0.
	var r ranker
	if global && p.Kind != policy.Weighted && p.Kind != policy.RoundRobin {
		r = newRanker(q.Loc, o)
	}
	var arr [32]candidate
	cands := arr[:0]
	for _, sh := range svc.Shards {
		if Consider(sh, f, q) == Candidate {
			cands = append(cands, r.rank(sh))
		}
	}
	n := max(p.Shards, 1)
	switch {
	case len(cands) == 0 && !global:
		res.Up = true
		return res
	case len(cands) == 0:
		return failOpen(svc, q, f, o, cands, res)
	case p.Kind == policy.Failover && len(p.Failover) > 0:
		return failover(cands, p.Failover, n, global, res)
	case p.Kind == policy.RoundRobin:
		return roundRobin(cands, n, q.Seq, res)
	case p.Kind == policy.Weighted:
		if res, ok := weighted(cands, p.Weights, n, q.Rand, res); ok {
			return res
		}
		if global { // no weighted candidate: closest, unranked so far
			r = newRanker(q.Loc, o)
			for i := range cands {
				cands[i] = r.rank(cands[i].shard)
			}
		}
	}
	res.Policy = policy.Closest
	return closest(cands, n, global, p.Spill, q.Rand, res)
}

// failOpen names every shard with an address that fits, closest first.
func failOpen(svc *model.Service, q *Query, f Family, o *Options, cands []candidate, res Result) Result {
	res.FailOpen, res.Policy = true, policy.Closest
	r := newRanker(q.Loc, o)
	for _, sh := range svc.Shards {
		if sh.HasAddress() && fits(sh, f) {
			cands = append(cands, r.rank(sh))
		}
	}
	sortCandidates(cands)
	res.Shards = take(res.Shards, cands, len(cands))
	res.Dependent = len(cands) > 1
	return res
}

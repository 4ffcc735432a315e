package answer

import (
	"github.com/meridian-dns/meridian/plugin/model"
)

// Decide chooses, once per name and client, what a service or SRV name
// holds for every query type, so that a name is a CNAME for every type or
// for none (RFC 1034 3.6.2, RFC 2181 10.1). It chooses among the usable
// shards with any address, whatever the question's family:
//
//	Result.Up          no usable shard at the zone or region level: the name
//	                   is a CNAME to the same name one level up
//	Result.Alias       the first chosen shard has no IP address, only a
//	                   load-balancer hostname: the name is a CNAME to it
//	                   (service names only; an SRV record names the
//	                   hostname as its target instead)
//	otherwise          the name holds records: TXT and SRV of Result.Shards,
//	                   and A and AAAA chosen per family by ByFamily
//
// q.Family is ignored. Rand and Seq are the query's: a weighted or
// roundrobin pick may make the next query's name another form, as it may
// name another shard, but never another type's at the same draw. q and o
// are read only.
func Decide(svc *model.Service, q *Query, o *Options, srv bool, buf []*model.Shard) Result {
	res := choose(svc, q, Any, o, buf)
	res.Alias = !srv && !res.Up && len(res.Shards) > 0 && !res.Shards[0].HasIP()
	return res
}

// ByFamily chooses the shards whose addresses of family f (V4 or V6)
// answer an A or AAAA question at a name that holds records: lead is that
// name's Decide result for the same query. A dual-stack client may so get
// the closest IPv4 shard and the closest IPv6 shard, each healthy; shards
// with only a hostname are never named. The result is empty (NODATA, never
// a CNAME) when the level has no usable shard of the family, and when only
// failing open would find one while the lead did not fail open: a client
// that gets NODATA for one family uses the other, healthy one, rather than
// an unusable shard.
//
// When Shared(svc, f), the candidates are lead's, and so is the choice:
// lead is returned without choosing again (callers on a hot path check
// Shared first and skip the call).
func ByFamily(svc *model.Service, q *Query, lead *Result, f Family, o *Options, buf []*model.Shard) Result {
	if Shared(svc, f) {
		return *lead
	}
	res := choose(svc, q, f, o, buf)
	if res.Up || (res.FailOpen && !lead.FailOpen) {
		return Result{Shards: res.Shards[:0], Policy: res.Policy}
	}
	return res
}

// Shared reports whether every shard of svc with an address has one of
// family f (V4 or V6): then ByFamily's choice is Decide's.
func Shared(svc *model.Service, f Family) bool {
	if f == V6 {
		return !svc.MissingV6
	}
	return !svc.MissingV4
}

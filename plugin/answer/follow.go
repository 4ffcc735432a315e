package answer

import (
	"net/netip"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/plugin/model"
)

// Locator finds where a client network is (geo.Locator does).
type Locator interface {
	Locate(netip.Prefix) geo.Location
}

// Follow decides the service or SRV name nm (of service svc) for one
// client and follows its fall-back chain, as an authoritative server
// follows a CNAME chain in its own zone (RFC 1034 4.3.2): the one call an
// answer needs. It returns how many names the chain has (1 to 3: the
// question's name, then each level up whose CNAME the one before is, see
// Name.Up) and the decision at the last one (Decide's: records, or a CNAME
// to a load-balancer hostname). q carries the query's draws (Rand, Seq);
// Follow sets its level and location to the last name's, so q is the
// query the decision was made for. The client is located with loc only
// when the chain reaches the global level, and only if client is a
// network (an ECS of /0, or no usable address, is of unknown location).
// buf is room for the chosen shards.
func Follow(svc *model.Service, nm Name, q *Query, o *Options, loc Locator, client netip.Prefix, buf []*model.Shard) (hops int, res Result) {
	for hops = 1; ; hops++ {
		q.Level, q.Region, q.Zone, q.Loc = nm.Level, nm.Region, nm.Zone, geo.Location{}
		if nm.Level == Global && client.IsValid() && client.Bits() > 0 {
			q.Loc = loc.Locate(client)
		}
		res = Decide(svc, q, o, nm.Kind == SRV, buf[:0])
		if !res.Up || nm.Level == Global {
			return hops, res
		}
		nm = nm.Up()
	}
}

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

// maxHops is the most names of a fall-back chain: zone, region, global.
const maxHops = 3

// Chain is what a service or SRV name holds for one client, with the
// fall-back chain followed as an authoritative server follows a CNAME
// chain in its own zone (RFC 1034 4.3.2): Name(0) is the question's name,
// each later name is the CNAME target of the one before (its level had no
// usable shard), and Result is the decision at the last one (Decide's:
// records, or a CNAME to a load-balancer hostname).
type Chain struct {
	names [maxHops]Name
	hops  int
	// Result is the decision at the last name; Query the query it was
	// made for (its Loc is the client's location at the global level).
	Result Result
	Query  Query
}

// Hops returns how many names the chain has, 1 to 3.
func (c *Chain) Hops() int { return c.hops }

// Name returns the chain's i-th name.
func (c *Chain) Name(i int) Name { return c.names[i] }

// Last returns the chain's last name, whose decision Result is.
func (c *Chain) Last() Name { return c.names[c.hops-1] }

// Follow decides the service or SRV name nm (of service svc) for one
// client and follows its fall-back chain: the one call an answer needs.
// q carries the query's draws (Rand, Seq); its level and location are
// Follow's to set. The client is located with loc only when the chain
// reaches the global level, and only if client is a network (an ECS of
// /0, or no usable address, is of unknown location). buf is room for the
// chosen shards.
func Follow(svc *model.Service, nm Name, q Query, o *Options, loc Locator, client netip.Prefix, buf []*model.Shard) Chain {
	c := Chain{Query: q}
	for {
		c.names[c.hops] = nm
		c.hops++
		c.Query.Level, c.Query.Region, c.Query.Zone, c.Query.Loc = nm.Level, nm.Region, nm.Zone, geo.Location{}
		if nm.Level == Global && client.IsValid() && client.Bits() > 0 {
			c.Query.Loc = loc.Locate(client)
		}
		c.Result = Decide(svc, &c.Query, o, nm.Kind == SRV, buf[:0])
		if !c.Result.Up || nm.Level == Global {
			return c
		}
		nm = nm.Up()
	}
}

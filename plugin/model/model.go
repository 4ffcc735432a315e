// Package model holds the federation snapshot that answers are read from:
// member clusters with their place on the map, and federated services with
// one shard per cluster. A Snapshot is immutable once built; the snapshot
// loop (package pipeline) builds a new one off the query path and swaps it
// in, so queries read it without locks.
//
// Build makes a snapshot from the sources' inputs and the health verdicts,
// sharing with the snapshot before it every cluster and service that did
// not change; see docs/architecture.md for the loop that calls it.
package model

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// Key names a federated service.
type Key struct {
	Namespace string
	Name      string
}

// Cluster is one member cluster: what answers read of it. Snapshots share
// it while its place and state stay the same (what its source reports
// beside the objects is in Intake).
type Cluster struct {
	Name   string
	Region string   // "" when neither the Nodes nor the Corefile say
	Zones  []string // sorted; zones with a ready Node, or the override
	// Point is where the cluster is; Located is false when neither the
	// region table nor the Corefile place it, and then it sorts last.
	Point   geo.Point
	Vec     geo.Vec3 // Point on the unit sphere, for fast comparisons
	Located bool
	State   health.State
	// Hash is a hash of Name, mixed with a client's network to break ties
	// between equally close clusters (rendezvous hashing).
	Hash uint64
}

// Intake is what a cluster's source reported with its objects.
type Intake struct {
	Synced time.Time // when the source last saw the cluster complete
	// Ignored and Invalid count the objects the source left out: Services
	// outside the federation filter, and objects with bad data.
	Ignored int
	Invalid int
	// Missing are the kinds the cluster refuses to list (source.Objects).
	Missing []string
}

// InZone reports whether the cluster has zone z.
func (c *Cluster) InZone(z string) bool {
	for _, cz := range c.Zones {
		if cz == z {
			return true
		}
	}
	return false
}

// Shard is the part of a service that runs in one cluster. The fields an
// answer reads come first, so that ranking a service's shards touches one
// cache line of each.
type Shard struct {
	Cluster *Cluster
	// Addrs are the shard's addresses (sh.V4, sh.IP4, ...): never nil,
	// never changed, shared by every snapshot built from the same Service
	// object while no probe leaves an address out. Only package model sets
	// them (setAddrs), with has.
	*Addrs
	// has says which kinds of address the shard has (hasV4, hasV6,
	// hasHostname), so that ranking reads no Addrs but the chosen ones'.
	has   uint8
	Ready int // ready endpoints
	Total int // endpoints that are not terminating
	// Healthy is true when its ready endpoints meet the service's
	// minimums and its probe, if any, passes, both after rise/fall
	// hysteresis (see package health), whatever its cluster's state.
	Healthy bool
	// Usable is true when the shard may be named in answers: it is
	// healthy, its cluster is usable, and it has a load-balancer address.
	Usable bool
	// Degraded is true when the shard is usable but not at full strength:
	// some endpoints are not ready, or a health signal is failing without
	// having fallen yet. The spill option moves answers away from it.
	Degraded bool
	// Probed is true when the service's probe applies to the shard;
	// ProbeUp is the probe's verdict then.
	Probed   bool
	ProbeUp  bool
	Hostname string // first load-balancer hostname (FQDN), "" if none
	Ports    []source.Port

	// host is what a host shard has beside these fields (Backends,
	// Detached); nil for a Service's shard, so that a Service's shard
	// pays one pointer for hosts.
	host *hostShard

	// passive is the passive tracker's handle for the shard, from its
	// last observation: the next build's verdict needs no lookup.
	passive health.Handle
	ann     map[string]string // the object's annotations, while building
	src     any               // the object the shard was built from: *source.Service or *source.Ingress
	orig    *Addrs            // its addresses before probes left any out
}

// hostShard is what a host shard has beside a Service's shard.
type hostShard struct {
	backends []Counts
	detached bool
}

// Backends are a host shard's endpoint counts, one per backend Service of
// the host's rules in the cluster (source.Rule.Services order), whose sums
// are Ready and Total; nil for a Service's shard.
func (s *Shard) Backends() []Counts {
	if s.host == nil {
		return nil
	}
	return s.host.backends
}

// Detached reports whether the shard is a host shard whose route no
// Programmed Gateway has Accepted: it is never healthy.
func (s *Shard) Detached() bool { return s.host != nil && s.host.detached }

// Counts are the endpoints of one Service in one cluster.
type Counts struct {
	Ready int // ready endpoints
	Total int // endpoints that are not terminating
}

// Addrs are a shard's addresses, in the two forms answers use.
type Addrs struct {
	V4  []netip.Addr
	V6  []netip.Addr
	IP4 []net.IP // V4 as records hold them
	IP6 []net.IP // V6 likewise
	// ClusterIPs are the Service's cluster IPs in its own cluster, as
	// records hold them: what the local-first resolver answers pods with
	// (nil unless Options.ClusterIPs).
	ClusterIPs []net.IP
}

// noAddrs are the addresses of a shard that has none.
var noAddrs = &Addrs{}

// The bits of Shard.has.
const (
	hasV4 = 1 << iota
	hasV6
	hasHostname
)

// setAddrs makes a the shard's addresses; its Hostname is already set.
func (s *Shard) setAddrs(a *Addrs) {
	s.Addrs, s.has = a, 0
	if len(a.V4) > 0 {
		s.has |= hasV4
	}
	if len(a.V6) > 0 {
		s.has |= hasV6
	}
	if s.Hostname != "" {
		s.has |= hasHostname
	}
}

// HasAddress reports whether the shard can be named in an answer at all.
func (s *Shard) HasAddress() bool { return s.has != 0 }

// HasIP reports whether the shard has an IP address of either family.
func (s *Shard) HasIP() bool { return s.has&(hasV4|hasV6) != 0 }

// HasV4 reports whether the shard has an IPv4 address (len(s.V4) > 0).
func (s *Shard) HasV4() bool { return s.has&hasV4 != 0 }

// HasV6 reports whether the shard has an IPv6 address (len(s.V6) > 0).
func (s *Shard) HasV6() bool { return s.has&hasV6 != 0 }

// Service is a federated service: its shards in every cluster that runs
// it. A host of Ingresses or Gateway API routes (Federated Ingress) is one
// too: its Key is its owner's namespace and name, and Host its name.
type Service struct {
	Key
	// Host is "" for a federated Service. For a host, it is the host name,
	// lower case and fully qualified ("*.shop.example.com." for a
	// wildcard), and each shard is one cluster's claim of it.
	Host        string
	Shards      []*Shard      // sorted by cluster name
	Ports       []source.Port // named ports of all shards, deduplicated
	HasV4       bool          // some shard has an IPv4 address
	HasV6       bool          // some shard has an IPv6 address
	HasHostname bool          // some shard has a load-balancer hostname
	// MissingV4 and MissingV6 are true when some shard with an address has
	// no IPv4 (IPv6) address: only then can an A (AAAA) answer name other
	// shards than the choice among every shard with an address.
	MissingV4, MissingV6 bool
	// Policy is how the service is answered, from its annotations over the
	// Corefile's defaults; Problems are the annotations that could not be
	// used (the service keeps the default for those).
	Policy   policy.Policy
	Problems []policy.Problem
	// Degraded is true when some shard with an address is not usable:
	// answers then carry the shorter degraded TTL.
	Degraded bool

	slab []Shard // the shards, while building
}

// State is how a service or host stands as a whole, for the status page
// and the gauges.
type State uint8

// The states, worst first.
const (
	// FailingOpen: no shard with an address is usable, so global answers
	// name every shard with an address.
	FailingOpen State = iota
	// Degraded: some shard with an address is not usable.
	Degraded
	// NoAddress: no shard has an address; nothing can be answered.
	NoAddress
	// Healthy: every shard with an address is usable.
	Healthy
)

// States are the states, worst first.
var States = []State{FailingOpen, Degraded, NoAddress, Healthy}

// String returns the state as a metric label.
func (s State) String() string {
	return [...]string{"failing_open", "degraded", "no_address", "healthy"}[s]
}

// State returns how the service stands, with its usable shards and its
// shards with an address.
func (s *Service) State() (st State, usable, addressed int) {
	for _, sh := range s.Shards {
		if !sh.HasAddress() {
			continue
		}
		addressed++
		if sh.Usable {
			usable++
		}
	}
	switch {
	case addressed == 0:
		return NoAddress, usable, addressed
	case usable == 0:
		return FailingOpen, usable, addressed
	case usable < addressed:
		return Degraded, usable, addressed
	}
	return Healthy, usable, addressed
}

// Port reports whether some shard of the service has the named port name/proto.
func (s *Service) Port(name, proto string) bool {
	for _, p := range s.Ports {
		if p.Name == name && p.Protocol == proto {
			return true
		}
	}
	return false
}

// HasProto reports whether the service has a named port with protocol proto.
func (s *Service) HasProto(proto string) bool {
	for _, p := range s.Ports {
		if p.Protocol == proto {
			return true
		}
	}
	return false
}

// Snapshot is the whole federation at one moment.
type Snapshot struct {
	Serial   uint32 // SOA serial, from the objects' change times (package pipeline)
	Built    time.Time
	Clusters []*Cluster // sorted by name
	Intake   []Intake   // Intake[i] is what Clusters[i]'s source reported
	// Services are the federated services. A service is shared with the
	// snapshot before while nothing it was made from changed (Build).
	Services map[Key]*Service
	// Namespaces holds every namespace with a federated service.
	Namespaces map[string]struct{}
	// Regions maps each known region to its zones.
	Regions map[string][]string
	// Partitioned is true while Meridian judges itself cut off from every
	// member cluster: their last state is served, with the degraded TTL
	// (docs/health.md, "Partition sense").
	Partitioned bool

	// Locations are the clusters' distinct points, sorted (latitude, then
	// longitude): what a client's place is ranked against. The slice is
	// the snapshot before's while the set is the same, so its identity
	// names the set (geo.Locator.LocateIn).
	Locations []geo.Point

	// Hosts maps each exact host name of Ingresses and routes to its host;
	// Wildcards maps the suffix of each wildcard host to its host
	// ("shop.example.com." for "*.shop.example.com."). HostNodes holds the
	// names between a host (or a wildcard's suffix, included) and its zone:
	// names that exist as empty non-terminals unless a host is there.
	Hosts     map[string]*Service
	Wildcards map[string]*Service
	HostNodes map[string]struct{}
	// Conflicts are the host claims that are refused, in cluster order
	// per host; Outside counts the hosts in no served zone (ignored).
	Conflicts []Conflict
	Outside   int

	opts Options // what it was built with
	// endpoints are the EndpointSlice lists, by cluster, that the shards'
	// counts were made from, for the next build (builder.count).
	endpoints map[string][]*source.EndpointSlice
}

// Conflict is a claim on a host that is not answered, and why.
type Conflict struct {
	Host  string // the host name as claimed
	Claim hosts.Claim
	Why   Why
	// Owner is the namespace and name that owns the host, for Taken and
	// Duplicate.
	Owner Key
}

// Why is the reason of a Conflict.
type Why uint8

// The reasons a claim is refused.
const (
	// Taken: another namespace/name claimed the host first (hosts.Owner).
	Taken Why = iota + 1
	// NotAllowed: the Corefile's host rules do not let the namespace claim
	// the host (hosts.Allowed).
	NotAllowed
	// FederationName: the host is the zone's apex, a wildcard directly
	// below it, or among the Federation v1 names (hosts.Place).
	FederationName
	// RegionName: the host, or a name a wildcard answers, is a region or
	// zone name of the federation: one or two labels below the zone, the
	// last a region some cluster is in.
	RegionName
	// Duplicate: the owner has another object claiming the host in the
	// same cluster (an Ingress and a route of one name); the first listed,
	// Ingresses first, is the shard.
	Duplicate
)

// String returns the reason as a metric label.
func (w Why) String() string {
	switch w {
	case Taken:
		return "taken"
	case NotAllowed:
		return "not_allowed"
	case FederationName:
		return "federation_name"
	case RegionName:
		return "region_name"
	case Duplicate:
		return "duplicate"
	}
	return "unknown"
}

// String says what the conflict is, for logs and the status page.
func (c Conflict) String() string {
	claim := fmt.Sprintf("host %s claimed by %s %s/%s in cluster %s", strings.TrimSuffix(c.Host, "."), c.Claim.Kind, c.Claim.Namespace, c.Claim.Name, c.Claim.Cluster)
	switch c.Why {
	case Taken:
		return fmt.Sprintf("%s: not answered, %s/%s claimed it first", claim, c.Owner.Namespace, c.Owner.Name)
	case NotAllowed:
		return claim + ": not answered, the host rules do not let namespace " + c.Claim.Namespace + " claim it"
	case FederationName:
		return claim + ": not answered, it is the zone's apex, a wildcard right below it or among the Federation v1 names (svc)"
	case RegionName:
		return claim + ": not answered, it is a region or zone name of the federation"
	case Duplicate:
		return claim + ": not answered, another object of that name claims it in the same cluster"
	}
	return claim + ": not answered"
}

// HasRegion reports whether some cluster is in region r.
func (s *Snapshot) HasRegion(r string) bool {
	_, ok := s.Regions[r]
	return ok
}

// HasZone reports whether some cluster of region r is in zone z.
func (s *Snapshot) HasZone(r, z string) bool {
	for _, zz := range s.Regions[r] {
		if zz == z {
			return true
		}
	}
	return false
}

// Cluster returns the cluster named name, or nil.
func (s *Snapshot) Cluster(name string) *Cluster {
	for _, c := range s.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

package answer

import (
	"math"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/plugin/model"
)

// Family is the address family a question asks for.
type Family uint8

// The families: Any for SRV, TXT and the like; V4 for A; V6 for AAAA.
const (
	Any Family = iota
	V4
	V6
)

// Policy says how the global level chooses among usable shards.
type Policy struct {
	// Shards is the most shards a global answer holds; below 1 means 1.
	Shards int
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
	// Dependent is true when another client could get another answer: the
	// ECS scope must then be the client's located network, else 0.
	Dependent bool
}

// Lookup returns the service nm names, or nil.
func Lookup(snap *model.Snapshot, nm Name) *model.Service {
	if nm.Service == "" {
		return nil
	}
	return snap.Services[model.Key{Namespace: nm.Namespace, Name: nm.Service}]
}

// Exists reports whether nm names something in snap: records, a CNAME, or
// an empty non-terminal with a name below it.
func Exists(snap *model.Snapshot, nm Name) bool {
	switch nm.Kind {
	case Unknown:
		return false
	case Apex:
		return true
	}
	if nm.Level >= Region && !snap.HasRegion(nm.Region) {
		return false
	}
	if nm.Level == Zone && !snap.HasZone(nm.Region, nm.Zone) {
		return false
	}
	switch {
	case nm.Namespace == "":
		return len(snap.Services) > 0
	case nm.Service == "":
		_, ok := snap.Namespaces[nm.Namespace]
		return ok
	}
	svc := Lookup(snap, nm)
	switch {
	case svc == nil:
		return false
	case nm.Kind == SRV:
		return svc.Port(nm.Port, nm.Proto)
	case nm.Kind == Node:
		return svc.HasProto(nm.Proto)
	}
	return true
}

// HasFamily reports whether any shard of svc can answer for family f.
func HasFamily(svc *model.Service, f Family) bool {
	switch f {
	case V4:
		return svc.HasV4 || svc.HasHostname
	case V6:
		return svc.HasV6 || svc.HasHostname
	}
	return true
}

func fits(sh *model.Shard, f Family) bool {
	if sh.Hostname != "" {
		return true
	}
	switch f {
	case V4:
		return len(sh.V4) > 0
	case V6:
		return len(sh.V6) > 0
	}
	return sh.HasAddress()
}

// Choose picks the shards of svc that answer a question of family f at
// level lvl (with region and zone for the narrower levels), for a client at
// loc. buf is reused for the result's shards.
//
//	level   candidates                          none usable
//	zone    usable shards in the zone           Up (CNAME to the region name)
//	region  usable shards in the region         Up (CNAME to the global name)
//	global  the p.Shards closest usable shards  every shard with an address
//
// Zone and region answers hold every candidate in cluster-name order, so
// they do not depend on the client. Global answers are ordered by distance
// from the client; clusters equally far (the same region) are ordered by a
// hash of the client's network and the cluster name, so each client network
// sticks to one of them and the networks spread across all of them. A
// client with no known location gets p.DefaultRegions' order, then cluster
// name order.
func Choose(svc *model.Service, lvl Level, region, zone string, f Family, loc geo.Location, p Policy, buf []*model.Shard) Result {
	res := Result{Shards: buf[:0]}
	if lvl != Global {
		for _, sh := range svc.Shards {
			c := sh.Cluster
			if sh.Usable && fits(sh, f) && c.Region == region && (lvl == Region || c.InZone(zone)) {
				res.Shards = append(res.Shards, sh)
			}
		}
		res.Up = len(res.Shards) == 0
		return res
	}
	var arr [32]candidate
	cands := arr[:0]
	r := newRanker(loc, p)
	for _, sh := range svc.Shards {
		if sh.Usable && fits(sh, f) {
			cands = append(cands, r.rank(sh))
		}
	}
	if len(cands) == 0 {
		res.FailOpen = true
		for _, sh := range svc.Shards {
			if sh.HasAddress() && fits(sh, f) {
				cands = append(cands, r.rank(sh))
			}
		}
	}
	sortCandidates(cands)
	limit := max(p.Shards, 1)
	if res.FailOpen {
		limit = len(cands)
	}
	for i := 0; i < len(cands) && i < limit; i++ {
		res.Shards = append(res.Shards, cands[i].shard)
	}
	res.Dependent = len(cands) > 1
	return res
}

// candidate is a shard with its sort keys: by key, then by tie.
type candidate struct {
	key   float64
	tie   uint64
	shard *model.Shard
}

// ranker computes sort keys for one client: what depends only on the
// client is computed once.
type ranker struct {
	known   bool
	vec     geo.Vec3
	net     uint64
	regions []string
}

func newRanker(loc geo.Location, p Policy) ranker {
	if !loc.Known {
		return ranker{regions: p.DefaultRegions}
	}
	return ranker{known: true, vec: loc.Point.Vector(), net: netHash(loc)}
}

func (r ranker) rank(sh *model.Shard) candidate {
	c := sh.Cluster
	if !r.known {
		key := float64(len(r.regions))
		for i, reg := range r.regions {
			if reg == c.Region {
				key = float64(i)
				break
			}
		}
		return candidate{key: key, shard: sh} // ties: shards are in name order
	}
	key := math.Inf(1)
	if c.Located {
		key = geo.Chord2(r.vec, c.Vec) // orders as great-circle distance does
	}
	return candidate{key: key, tie: mix(r.net ^ c.Hash), shard: sh}
}

// sortCandidates is a stable insertion sort: answers hold a handful of
// shards, and it neither allocates nor reorders equal keys.
func sortCandidates(cs []candidate) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && less(cs[j], cs[j-1]); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

func less(a, b candidate) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.tie < b.tie
}

// netHash hashes the client's located network (FNV-1a over address and
// prefix length), so every client the ECS scope covers gets the same pick.
func netHash(loc geo.Location) uint64 {
	h := uint64(14695981039346656037)
	b := loc.Net.Addr().As16()
	for _, x := range b {
		h ^= uint64(x)
		h *= 1099511628211
	}
	h ^= uint64(loc.Net.Bits() + 1)
	h *= 1099511628211
	return h
}

// mix is the splitmix64 finalizer: it spreads the combined hash's bits so
// the order of two clusters is independent for different networks.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

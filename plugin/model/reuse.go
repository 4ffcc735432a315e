package model

import (
	"reflect"
	"slices"

	"github.com/meridian-dns/meridian/health"
)

// A build makes only what changed since the snapshot before it. The rule
// is one of identity: sources hand out immutable structs and make a new one
// for every change, so a service whose shards come from the same Service
// objects, with the same endpoint counts, in the same clusters, judged the
// same by the verdicts, is the same service, and the build takes the one it
// had. A change anywhere in a service (one cluster's object, one count, one
// verdict) makes that service anew; a change to a cluster's place or state
// makes anew every service with a shard there.

// cluster returns c, or the same cluster of the snapshot before when its
// place and state are unchanged.
func (b *builder) cluster(c *Cluster) *Cluster {
	if b.prev == nil {
		return c
	}
	if p := b.prev.Cluster(c.Name); p != nil && sameCluster(p, c) {
		return p
	}
	return c
}

// sameCluster reports whether a and b say the same of a cluster.
func sameCluster(a, b *Cluster) bool {
	return a.Name == b.Name && a.Region == b.Region && slices.Equal(a.Zones, b.Zones) &&
		a.Point == b.Point && a.Vec == b.Vec && a.Located == b.Located &&
		a.State == b.State && a.Hash == b.Hash
}

// sameOptions reports whether a snapshot built with a would be built the
// same with b. Options hold a handful of values, once per build.
func sameOptions(a, b *Options) bool { return reflect.DeepEqual(a, b) }

// reuse reports whether prev, the service of the snapshot before, is what
// ents would make now. When it is, the verdicts' observations and probe
// targets for its shards are added to the build's, as making it anew
// would add them; when it is not, nothing is added.
func (b *builder) reuse(prev *Service, k Key, ents []entry) bool {
	if prev == nil || prev.Key != k || len(prev.Shards) != len(ents) {
		return false
	}
	for i, sh := range prev.Shards {
		e := &ents[i]
		if sh.Cluster != e.c || sh.src != e.src() || sh.Ready != e.n.Ready || sh.Total != e.n.Total ||
			!slices.Equal(sh.Backends(), e.backs()) {
			return false
		}
	}
	// The inputs are the same: so are the policy, the addresses before
	// probes and what the service says about its ports. Judge each shard
	// again on a copy, as finishService would, and compare every field
	// that judging sets.
	np, nt := len(b.passive), len(b.probes)
	scratch := Service{Key: prev.Key, Host: prev.Host, Policy: prev.Policy}
	upgrade := false // some shard has no passive handle and the tracker has one now
	for _, sh := range prev.Shards {
		cp := *sh
		cp.Healthy, cp.Usable, cp.Degraded, cp.Probed, cp.ProbeUp = false, false, false, false, false
		cp.setAddrs(sh.orig)
		b.judge(&scratch, &cp)
		if cp.Healthy != sh.Healthy || cp.Usable != sh.Usable || cp.Degraded != sh.Degraded ||
			cp.Probed != sh.Probed || cp.ProbeUp != sh.ProbeUp || !sameAddrs(cp.Addrs, sh.Addrs) ||
			(cp.passive != sh.passive && sh.passive != health.Handle{}) {
			b.passive, b.probes = b.passive[:np], b.probes[:nt]
			return false
		}
		upgrade = upgrade || cp.passive != sh.passive
	}
	if upgrade && b.upgrades < maxUpgrades {
		b.upgrades++
		b.passive, b.probes = b.passive[:np], b.probes[:nt]
		return false
	}
	return true // and so is svc.Degraded, which follows the shards' Usable
}

// maxUpgrades bounds how many services a build makes anew only to give
// their shards the passive tracker's handles. The tracker knows a shard
// from the build after its first, so right after start every service would
// be made twice at once, a peak of garbage at 100,000 shards; a handle
// only spares a lookup, so they come a thousand services a build.
const maxUpgrades = 1000

// sameAddrs reports whether a and b, made from the same addresses before
// probes, hold the same ones: the same object, or equal lists where probes
// left some out (IP4 and IP6 follow V4 and V6; ClusterIPs are never left
// out).
func sameAddrs(a, b *Addrs) bool {
	return a == b || (slices.Equal(a.V4, b.V4) && slices.Equal(a.V6, b.V6))
}

package model

import (
	"slices"
	"strings"

	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/source"
)

// Hosts: a build gathers every cluster's claims on each host of Ingresses
// and routes, decides who owns the host (package hosts) and makes the
// owner's claims its shards, one per cluster, like a service's. The rules
// are in docs/ingress-and-gateway.md.

// hostClaim is one object's claim on a host in one cluster.
type hostClaim struct {
	ci   int
	ing  *source.Ingress
	rule *source.Rule
}

// hostGroups are the claims of every host, each host's side by side in
// cluster-name order (and, within a cluster, in the source's order).
type hostGroups struct {
	names []string // host names, in the order first seen
	start []int32  // the claims of names[i] are all[start[i]:start[i+1]]
	all   []hostClaim
}

func (g *hostGroups) claims(i int) []hostClaim { return g.all[g.start[i]:g.start[i+1]] }

// groupHosts gathers the claims of every host from the clusters named in
// names (sorted).
func groupHosts(in map[string]*Input, names []string) hostGroups {
	total := 0
	for _, name := range names {
		for _, ing := range in[name].Objects.Ingresses {
			total += len(ing.Rules)
		}
	}
	if total == 0 {
		return hostGroups{}
	}
	gr := newGrouper[string](total)
	for _, name := range names {
		for _, ing := range in[name].Objects.Ingresses {
			for j := range ing.Rules {
				gr.count(ing.Rules[j].Host)
			}
		}
	}
	g := hostGroups{names: gr.keys, start: gr.layout()}
	g.all = make([]hostClaim, total)
	for ci, name := range names {
		for _, ing := range in[name].Objects.Ingresses {
			for j := range ing.Rules {
				g.all[gr.place(ing.Rules[j].Host)] = hostClaim{ci: ci, ing: ing, rule: &ing.Rules[j]}
			}
		}
	}
	return g
}

// hosts makes every host of g into the snapshot, or records why not.
func (b *builder) hosts(g *hostGroups) {
	if len(g.names) == 0 {
		return
	}
	snap := b.snap
	snap.Hosts = make(map[string]*Service, max(len(b.prev.hosts()), len(g.names)))
	snap.Wildcards = make(map[string]*Service)
	snap.HostNodes = make(map[string]struct{})
	for i, name := range g.names {
		b.host(name, g.claims(i))
	}
}

// host makes the host name from its claims, in cluster order.
func (b *builder) host(name string, cl []hostClaim) {
	h := hosts.Host{Name: name, Wildcard: strings.HasPrefix(name, "*.")}
	zone, place := hosts.Place(h, b.opts.Zones)
	switch {
	case place == hosts.Outside:
		b.snap.Outside++
		return
	case place == hosts.Conflict:
		b.refuse(name, cl, FederationName, Key{})
		return
	case b.regionName(h, zone):
		b.refuse(name, cl, RegionName, Key{})
		return
	}

	// Who may claim it, and who does.
	claims := b.claims[:0]
	for _, c := range cl {
		if b.opts.HostRules != nil && !hosts.Allowed(h, c.ing.Namespace, b.opts.HostRules) {
			b.refuse(name, []hostClaim{c}, NotAllowed, Key{})
			continue
		}
		claims = append(claims, b.claim(c))
	}
	b.claims = claims
	if len(claims) == 0 {
		return
	}
	first := hosts.Oldest(claims)
	owner := Key{first.Namespace, first.Name}

	// The owner's claims, one per cluster, are the shards.
	var prev *Service
	if h.Wildcard {
		prev = b.prev.wildcards()[h.Suffix()]
	} else {
		prev = b.prev.hosts()[name]
	}
	if prev != nil && prev.Key != owner {
		prev = nil // another owner: nothing of the host before is its
	}
	hents, cis := b.hents[:0], b.cis[:0] // the owner's claims, and the cluster of each
	for _, c := range cl {
		k := Key{c.ing.Namespace, c.ing.Name}
		switch {
		case k != owner:
			if b.opts.HostRules == nil || hosts.Allowed(h, k.Namespace, b.opts.HostRules) {
				b.refuse(name, []hostClaim{c}, Taken, owner)
			}
			continue
		case len(cis) > 0 && cis[len(cis)-1] == c.ci:
			b.refuse(name, []hostClaim{c}, Duplicate, owner)
			continue
		}
		hents = append(hents, hostEntry{ing: c.ing, rule: c.rule})
		cis = append(cis, c.ci)
	}
	b.hents, b.cis = hents, cis
	ents := b.ents[:0]
	for i := range hents {
		e := entry{c: b.snap.Clusters[cis[i]], ci: cis[i], h: &hents[i]}
		b.countHost(&e, prev)
		ents = append(ents, e)
	}
	b.ents = ents
	svc := b.make(owner, name, prev, ents)
	clear(ents) // the scratch must not keep objects alive
	clear(hents)
	if h.Wildcard {
		b.snap.Wildcards[h.Suffix()] = svc
	} else {
		b.snap.Hosts[name] = svc
	}
	// The names between the host and its zone exist.
	rest := h.Suffix()
	if !h.Wildcard {
		_, rest, _ = strings.Cut(rest, ".")
	}
	for len(rest) > len(zone) {
		b.snap.HostNodes[rest] = struct{}{}
		_, rest, _ = strings.Cut(rest, ".")
	}
}

// claim returns c as package hosts sees it.
func (b *builder) claim(c hostClaim) hosts.Claim {
	return hosts.Claim{Cluster: b.snap.Clusters[c.ci].Name, Namespace: c.ing.Namespace, Name: c.ing.Name, Kind: c.ing.Kind, Created: c.ing.Created}
}

// refuse records the claims cl on host as conflicts.
func (b *builder) refuse(host string, cl []hostClaim, why Why, owner Key) {
	for _, c := range cl {
		b.snap.Conflicts = append(b.snap.Conflicts, Conflict{Host: host, Claim: b.claim(c), Why: why, Owner: owner})
	}
}

// regionName reports whether h, or a name a wildcard h answers, is a
// region or zone name of the federation in zone: one or two labels below
// the zone, the last one a region some cluster is in. Package answer
// reads such names as the federation's, first.
func (b *builder) regionName(h hosts.Host, zone string) bool {
	rel := strings.TrimSuffix(h.Name, "."+zone)
	labels := strings.Count(rel, ".") + 1
	if labels > 2 {
		return false
	}
	_, region, _ := strings.Cut(rel, ".")
	if labels == 1 {
		region = rel
	}
	return b.snap.HasRegion(region)
}

// countHost sets the endpoint counts of the host shard e: those of each
// backend Service of its rule in its cluster, and their sums. While the
// cluster's EndpointSlice list and the object are the ones the shard of
// the snapshot before was made from, they are that shard's; counts equal
// to that shard's are shared with it too.
func (b *builder) countHost(e *entry, prev *Service) {
	h, old := e.h, prev.shardIn(e.c.Name)
	if old != nil && b.same[e.ci] && old.src == e.src() {
		h.backs, e.n = old.Backends(), Counts{old.Ready, old.Total}
		return
	}
	if len(h.rule.Services) == 0 {
		h.backs, e.n = nil, Counts{}
		return
	}
	m := b.counted(e.ci)
	backs := b.backs[:0]
	var sum Counts
	for _, name := range h.rule.Services {
		c := m[Key{h.ing.Namespace, name}]
		backs = append(backs, c)
		sum.Ready += c.Ready
		sum.Total += c.Total
	}
	b.backs = backs
	e.n = sum
	if old != nil && slices.Equal(old.Backends(), backs) {
		h.backs = old.Backends()
		return
	}
	h.backs = slices.Clone(backs)
}

// hosts returns the exact hosts of s (nil-safe).
func (s *Snapshot) hosts() map[string]*Service {
	if s == nil {
		return nil
	}
	return s.Hosts
}

// wildcards returns the wildcard hosts of s (nil-safe).
func (s *Snapshot) wildcards() map[string]*Service {
	if s == nil {
		return nil
	}
	return s.Wildcards
}

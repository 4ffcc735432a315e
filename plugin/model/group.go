package model

import (
	"net/netip"

	"github.com/meridian-dns/meridian/plugin/source"
)

// Grouping: a build gathers what every cluster says about each service
// (its entries) before it makes the service, so that it can tell whether
// anything changed before it allocates anything.

// count returns the endpoint counts of service k in the cluster of index
// ci. While the cluster's list of EndpointSlices is the one the snapshot
// before was built from, they are those of its shard there, when it had
// one; else they are counted from the list, once per cluster and build.
func (b *builder) count(ci int, k Key, prev *Service) Counts {
	if b.same[ci] {
		if sh := prev.shardIn(b.snap.Clusters[ci].Name); sh != nil {
			return Counts{sh.Ready, sh.Total}
		}
	}
	return b.counted(ci)[k]
}

// counted returns the endpoint counts of every service in the cluster of
// index ci, counted from its list once per build.
func (b *builder) counted(ci int) map[Key]Counts {
	if b.fresh[ci] == nil {
		b.fresh[ci] = countEndpoints(b.snap.endpoints[b.snap.Clusters[ci].Name])
	}
	return b.fresh[ci]
}

// sameList reports whether a and b are the same list (not equal ones).
func sameList[T any](a, b []*T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// countEndpoints counts the endpoints of each service: slices of one
// address family are summed, and the family with the most ready endpoints
// stands for the service (a dual-stack Service lists its pods once per
// family).
func countEndpoints(slices []*source.EndpointSlice) map[Key]Counts {
	type famKey struct {
		Key
		fam string
	}
	byFam := make(map[famKey]Counts, len(slices))
	for _, e := range slices {
		k := famKey{Key{e.Namespace, e.Service}, e.AddressType}
		c := byFam[k]
		c.Ready += e.Ready
		c.Total += e.Total
		byFam[k] = c
	}
	m := make(map[Key]Counts, len(byFam))
	for k, c := range byFam {
		if best, ok := m[k.Key]; !ok || c.Ready > best.Ready || (c.Ready == best.Ready && c.Total > best.Total) {
			m[k.Key] = c
		}
	}
	return m
}

// entry is what one cluster says about one service or host: the input
// of a shard.
type entry struct {
	c  *Cluster
	ci int             // c's index in the snapshot's clusters
	s  *source.Service // a Service's shard
	h  *hostEntry      // a host shard's (then s is nil)
	n  Counts          // set by builder.service and builder.host
}

// hostEntry is what one cluster says about one host beside an entry's
// fields: the claiming object and its rule of the host, and the endpoint
// counts of its backends (set by builder.countHost).
type hostEntry struct {
	ing   *source.Ingress
	rule  *source.Rule
	backs []Counts
}

// src returns the object the entry was made from.
func (e *entry) src() any {
	if e.h != nil {
		return e.h.ing
	}
	return e.s
}

// backs returns a host entry's backend counts, nil for a Service's.
func (e *entry) backs() []Counts {
	if e.h == nil {
		return nil
	}
	return e.h.backs
}

// front is what an object says of the shard beside its endpoints.
type front struct {
	addrs, clusterIPs []netip.Addr
	hostnames         []string
	ports             []source.Port
	ann               map[string]string
}

// front returns what e's object says of its shard: a host shard has no
// ports and no cluster IPs.
func (e *entry) front() front {
	if e.h != nil {
		return front{addrs: e.h.ing.Addresses, hostnames: e.h.ing.Hostnames, ann: e.h.ing.Annotations}
	}
	return front{addrs: e.s.Addresses, clusterIPs: e.s.ClusterIPs, hostnames: e.s.Hostnames, ports: e.s.Ports, ann: e.s.Annotations}
}

// groups are the entries of every service, each service's side by side in
// cluster-name order.
type groups struct {
	keys  []Key   // in the order first seen
	start []int32 // the entries of keys[i] are all[start[i]:start[i+1]]
	all   []entry
}

func (g *groups) entries(i int) []entry { return g.all[g.start[i]:g.start[i+1]] }

// group gathers the entries of every service from the clusters named in
// names (sorted), whose built clusters are clusters.
func group(in map[string]*Input, names []string, clusters []*Cluster) groups {
	n := 0
	for _, ci := range in {
		n = max(n, len(ci.Objects.Services))
	}
	gr := newGrouper[Key](n)
	for _, name := range names {
		for _, s := range in[name].Objects.Services {
			gr.count(Key{s.Namespace, s.Name})
		}
	}
	g := groups{keys: gr.keys, start: gr.layout()}
	g.all = make([]entry, gr.total)
	for ci, name := range names {
		for _, s := range in[name].Objects.Services {
			g.all[gr.place(Key{s.Namespace, s.Name})] = entry{c: clusters[ci], ci: ci, s: s}
		}
	}
	return g
}

// grouper lays out items by key so that each key's items lie side by side
// in one slice, in two passes over them: count every item's key, then
// place every item, in the same order. Keys keep the order first seen.
type grouper[K comparable] struct {
	index map[K]int32
	keys  []K
	sizes []int32
	next  []int32 // each key's next free place, once laid out
	total int
}

func newGrouper[K comparable](n int) *grouper[K] { return &grouper[K]{index: make(map[K]int32, n)} }

// count counts one item of key k.
func (g *grouper[K]) count(k K) {
	i, ok := g.index[k]
	if !ok {
		i = int32(len(g.keys))
		g.index[k] = i
		g.keys = append(g.keys, k)
		g.sizes = append(g.sizes, 0)
	}
	g.sizes[i]++
	g.total++
}

// layout returns where each key's items start: key i's are at
// [start[i], start[i+1]).
func (g *grouper[K]) layout() (start []int32) {
	start = make([]int32, len(g.keys)+1)
	for i, sz := range g.sizes {
		start[i+1] = start[i] + sz
	}
	g.next = make([]int32, len(g.keys))
	copy(g.next, start)
	return start
}

// place returns the place of the next item of key k.
func (g *grouper[K]) place(k K) int32 {
	i := g.index[k]
	at := g.next[i]
	g.next[i]++
	return at
}

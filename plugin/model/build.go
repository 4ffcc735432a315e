package model

import (
	"cmp"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// Input is what a source last said about one cluster.
type Input struct {
	Objects source.Objects
	State   health.State
}

// Override places a cluster by configuration instead of by its Nodes.
type Override struct {
	Region string   // "" keeps the region from the Nodes
	Zones  []string // nil keeps the zones from the Nodes
	// Point, when Located, overrides the region table.
	Point   geo.Point
	Located bool
}

// Options tune how a snapshot is built.
type Options struct {
	// Defaults is the policy of a service whose annotations say nothing
	// (the Corefile's settings); a MinReady below 1 means 1.
	Defaults policy.Policy
	// Overrides maps a cluster name to its configured placement.
	Overrides map[string]Override
	// ClusterIPs keeps the Services' cluster IPs in the shards, for the
	// local-first resolver; the authoritative role leaves them out.
	ClusterIPs bool
	// Zones are the served zones, lower case and fully qualified: the
	// hosts of Ingresses and routes in none of them are ignored.
	Zones []string
	// HostRules restrict which namespaces may claim hosts under which
	// suffixes (hosts.Allowed); nil lets any namespace claim any host.
	HostRules []hosts.Rule
}

// Inputs are what the sources last said about every cluster, with the
// SOA serial and the time of the build.
type Inputs struct {
	Clusters map[string]*Input
	Serial   uint32
	Now      time.Time
	// Partitioned says Meridian judges itself cut off from every member
	// cluster (pipeline's partition sense); the Clusters' states already
	// hold what it implies.
	Partitioned bool
	// Prev is the snapshot built before, or nil. Build only reads it: the
	// addresses of a shard whose Service object is the same one as then
	// (sources hand out immutable structs) are shared, not converted again.
	Prev *Snapshot
}

// Built is what Build makes: the snapshot, and what the health trackers
// are handed once it is published.
type Built struct {
	Snapshot *Snapshot
	// Probes are the probe targets of every probed shard, for the prober.
	Probes []health.Target
	// Passive are the passive observations of every judged shard, for the
	// passive tracker (health.Passive.Record).
	Passive []health.Observation
}

// Build makes a snapshot from the inputs of every cluster and the health
// verdicts v (nil: every shard is judged by its passive signal alone, at
// once). It is pure: it changes nothing it is given, and the same inputs
// and verdicts give the same result.
//
// Given the snapshot before (in.Prev, built with the same opts), Build
// makes only what changed (see reuse.go): a cluster whose place and state
// are the same is the same *Cluster, and a service whose Service objects,
// endpoint counts, clusters and verdicts are all the same is the same
// *Service, shared with the snapshot before. It still reads every object
// and asks the verdicts about every shard, so its time grows with the
// federation, but what it allocates grows with what changed.
func Build(in Inputs, v Verdicts, opts Options) Built {
	snap := &Snapshot{
		Serial:      in.Serial,
		Built:       in.Now,
		Partitioned: in.Partitioned,
		Services:    make(map[Key]*Service, len(in.Prev.services())),
		Namespaces:  make(map[string]struct{}),
		Regions:     make(map[string][]string),
		opts:        opts,
	}
	b := &builder{snap: snap, v: v, opts: &opts}
	if in.Prev != nil && sameOptions(&in.Prev.opts, &opts) {
		b.prev = in.Prev
	}
	names := make([]string, 0, len(in.Clusters))
	for name := range in.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		ci := in.Clusters[name]
		c := b.cluster(buildCluster(name, ci, opts.Overrides[name]))
		snap.Clusters = append(snap.Clusters, c)
		snap.Intake = append(snap.Intake, Intake{Synced: ci.Objects.Synced, Ignored: ci.Objects.Ignored, Invalid: ci.Objects.Invalid,
			Missing: ci.Objects.Missing})
		if c.Region != "" {
			snap.Regions[c.Region] = mergeSorted(snap.Regions[c.Region], c.Zones)
		}
	}
	snap.Locations = locations(snap.Clusters, in.Prev)
	snap.endpoints = make(map[string][]*source.EndpointSlice, len(names))
	b.same, b.fresh = make([]bool, len(names)), make([]map[Key]Counts, len(names))
	for i, name := range names {
		l := in.Clusters[name].Objects.Endpoints
		snap.endpoints[name] = l
		b.same[i] = b.prev != nil && sameList(b.prev.endpoints[name], l)
	}
	g := group(in.Clusters, names, snap.Clusters)
	hg := groupHosts(in.Clusters, names)
	if v != nil { // one observation per shard with an address, at most
		b.passive = make([]health.Observation, 0, len(g.all)+len(hg.all))
	}
	for i, k := range g.keys {
		b.service(k, g.entries(i))
	}
	b.hosts(&hg)
	return Built{Snapshot: snap, Probes: b.probes, Passive: b.passive}
}

// locations returns the clusters' distinct points, sorted; prev's slice
// when the set is the same.
func locations(clusters []*Cluster, prev *Snapshot) []geo.Point {
	var out []geo.Point
	for _, c := range clusters {
		if c.Located {
			out = append(out, c.Point)
		}
	}
	slices.SortFunc(out, func(a, b geo.Point) int {
		if c := cmp.Compare(a.Lat, b.Lat); c != 0 {
			return c
		}
		return cmp.Compare(a.Lon, b.Lon)
	})
	out = slices.Compact(out)
	if prev != nil && slices.Equal(prev.Locations, out) {
		return prev.Locations
	}
	return out
}

// builder is one Build's state while it makes the services.
type builder struct {
	snap    *Snapshot
	prev    *Snapshot // nil, or the snapshot before when built with the same options
	v       Verdicts
	opts    *Options
	probes  []health.Target
	passive []health.Observation
	// By cluster index: whether the cluster's EndpointSlice list is the
	// one the snapshot before was counted from, and the counts made from
	// it in this build (nil until needed).
	same  []bool
	fresh []map[Key]Counts
	// claims, ents and hents are scratch room for one host's claims and
	// entries.
	claims []hosts.Claim
	ents   []entry
	hents  []hostEntry
	cis    []int
	backs  []Counts
	// upgrades counts the services made anew only for passive handles.
	upgrades int
}

// service makes the service k from its shards' entries, in cluster-name
// order, or takes the one of the snapshot before when nothing changed.
func (b *builder) service(k Key, ents []entry) {
	b.snap.Namespaces[k.Namespace] = struct{}{}
	prev := b.prev.service(k)
	for i := range ents {
		ents[i].n = b.count(ents[i].ci, k, prev)
	}
	b.snap.Services[k] = b.make(k, "", prev, ents)
}

// make returns the service (or host, when host is not "") k made of the
// shards' entries, in cluster-name order: prev, its namesake in the
// snapshot before, when nothing changed, else a new one.
func (b *builder) make(k Key, host string, prev *Service, ents []entry) *Service {
	if b.reuse(prev, k, ents) {
		return prev
	}
	svc := &Service{Key: k, Host: host, slab: make([]Shard, 0, len(ents))}
	var hs []hostShard // one allocation for a host's shards
	if host != "" {
		hs = make([]hostShard, len(ents))
	}
	for i := range ents {
		svc.addShard(prev, &ents[i], b.opts.ClusterIPs)
		if e := ents[i].h; e != nil {
			hs[i] = hostShard{backends: e.backs, detached: e.ing.Detached}
			svc.slab[i].host = &hs[i]
		}
	}
	b.finishService(svc)
	return svc
}

// buildCluster places a cluster: majority region of its ready Nodes, every
// zone that has a ready Node, coordinates from the region table; the
// override wins where it says something.
func buildCluster(name string, in *Input, ov Override) *Cluster {
	c := &Cluster{Name: name, State: in.State, Hash: hashString(name)}
	regions := map[string]int{}
	zones := map[string]struct{}{}
	for _, n := range in.Objects.Nodes {
		if !n.Ready {
			continue
		}
		if n.Region != "" {
			regions[n.Region]++
		}
		if n.Zone != "" {
			zones[n.Zone] = struct{}{}
		}
	}
	for r, n := range regions {
		if n > regions[c.Region] || (n == regions[c.Region] && r < c.Region) {
			c.Region = r
		}
	}
	for z := range zones {
		c.Zones = append(c.Zones, z)
	}
	sort.Strings(c.Zones)
	if ov.Region != "" {
		c.Region = ov.Region
	}
	if ov.Zones != nil {
		c.Zones = append([]string(nil), ov.Zones...)
		sort.Strings(c.Zones)
	}
	switch {
	case ov.Located:
		c.Point, c.Located = ov.Point, true
	case c.Region != "":
		c.Point, c.Located = geo.Region(c.Region)
	}
	c.Vec = c.Point.Vector()
	return c
}

// addShard adds the shard of entry e; prev is the service in the snapshot
// before, or nil. Shards live side by side in the service's slab, for the
// answers that walk them all; Shards points into it once every cluster is
// in (Service.link).
func (svc *Service) addShard(prev *Service, e *entry, clusterIPs bool) {
	lb := e.front()
	svc.slab = append(svc.slab, Shard{Cluster: e.c, Ports: lb.ports, Ready: e.n.Ready, Total: e.n.Total, ann: lb.ann, src: e.src()})
	sh := &svc.slab[len(svc.slab)-1]
	clusterIPs = clusterIPs && len(lb.clusterIPs) > 0
	// The shard of the snapshot before lends its passive handle, and its
	// addresses when it was made from the same object.
	if old := prev.shardIn(e.c.Name); old != nil {
		sh.passive = old.passive
		if old.src == sh.src && (old.orig.ClusterIPs != nil) == clusterIPs {
			sh.orig = old.orig
		}
	}
	if sh.orig == nil {
		sh.orig = newAddrs(lb.addrs, lb.clusterIPs, clusterIPs)
	}
	if len(lb.hostnames) > 0 {
		sh.Hostname = lb.hostnames[0]
	}
	sh.setAddrs(sh.orig)

	svc.HasV4 = svc.HasV4 || sh.HasV4()
	svc.HasV6 = svc.HasV6 || sh.HasV6()
	svc.HasHostname = svc.HasHostname || sh.Hostname != ""
	svc.MissingV4 = svc.MissingV4 || (sh.HasAddress() && !sh.HasV4())
	svc.MissingV6 = svc.MissingV6 || (sh.HasAddress() && !sh.HasV6())
	for _, p := range lb.ports {
		if p.Name != "" && !svc.Port(p.Name, p.Protocol) {
			svc.Ports = append(svc.Ports, p)
		}
	}
}

// link points Shards at the slab once every cluster's shard is in it.
func (svc *Service) link() {
	svc.Shards = make([]*Shard, len(svc.slab))
	for i := range svc.slab {
		svc.Shards[i] = &svc.slab[i]
	}
	svc.slab = nil
}

// service returns the service k of s (nil-safe), or nil.
func (s *Snapshot) service(k Key) *Service {
	if s == nil {
		return nil
	}
	return s.Services[k]
}

// services returns the services of s (nil-safe).
func (s *Snapshot) services() map[Key]*Service {
	if s == nil {
		return nil
	}
	return s.Services
}

// newAddrs converts an object's load-balancer addresses (and, when
// clusterIPs, its cluster IPs) once per object; every snapshot built from
// that object shares them.
func newAddrs(addrs, cips []netip.Addr, clusterIPs bool) *Addrs {
	if len(addrs) == 0 && !clusterIPs {
		return noAddrs
	}
	a := &Addrs{}
	for _, ip := range addrs {
		if ip.Unmap().Is4() {
			a.V4 = append(a.V4, ip.Unmap())
		} else {
			a.V6 = append(a.V6, ip)
		}
	}
	a.IP4, a.IP6 = asIPs(a.V4), asIPs(a.V6)
	if clusterIPs {
		a.ClusterIPs = asIPs(cips)
	}
	return a
}

// shardIn returns the shard of svc (nil-safe) in cluster, or nil.
func (svc *Service) shardIn(cluster string) *Shard {
	if svc == nil {
		return nil
	}
	for _, sh := range svc.Shards {
		if sh.Cluster.Name == cluster {
			return sh
		}
	}
	return nil
}

// asIPs returns addrs as records hold them.
func asIPs(addrs []netip.Addr) []net.IP {
	if len(addrs) == 0 {
		return nil
	}
	// One backing array for the bytes of them all.
	n := 0
	for _, a := range addrs {
		n += a.BitLen() / 8
	}
	ips, buf := make([]net.IP, len(addrs)), make([]byte, 0, n)
	for i, a := range addrs {
		at := len(buf)
		if a.Is4() {
			b := a.As4()
			buf = append(buf, b[:]...)
		} else {
			b := a.As16()
			buf = append(buf, b[:]...)
		}
		ips[i] = net.IP(buf[at:len(buf):len(buf)])
	}
	return ips
}

// mergeSorted adds the zones in add to the sorted set zs.
func mergeSorted(zs, add []string) []string {
	if zs == nil {
		zs = []string{}
	}
	for _, z := range add {
		i := sort.SearchStrings(zs, z)
		if i < len(zs) && zs[i] == z {
			continue
		}
		zs = append(zs, "")
		copy(zs[i+1:], zs[i:])
		zs[i] = z
	}
	return zs
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

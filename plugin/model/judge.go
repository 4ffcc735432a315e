package model

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// Verdicts are the health signals Build reads, and never changes: the
// loop that builds snapshots answers them with package health's Passive
// and Prober. Build asks about every shard with an address, once per build.
type Verdicts interface {
	// Passive judges shard k given its raw signal now (enough ready
	// endpoints), after rise/fall hysteresis, without recording anything
	// (health.Passive.JudgeAt): the observation holds the stable state and
	// whether a transition is pending, and Build returns it for the
	// tracker to record once the snapshot is published. h is the handle
	// of k's observation in the build before, or the zero Handle.
	Passive(k health.Key, h health.Handle, ok bool, rise, fall int) health.Observation
	// Probe returns the verdict of the probe of target t: true while the
	// target is up or has no result yet.
	Probe(t health.TargetKey) bool
}

// finishService reads the service's policy from the annotations of its
// shards over the defaults, then judges every shard.
func (b *builder) finishService(svc *Service) {
	svc.link()
	var arr [8]policy.Annotated
	anns := arr[:0]
	for _, sh := range svc.Shards {
		if sh.ann != nil {
			anns = append(anns, policy.Annotated{Cluster: sh.Cluster.Name, Annotations: sh.ann})
		}
	}
	var merged map[string]string
	if len(anns) > 0 {
		merged, svc.Problems = policy.Merge(anns)
	}
	pol, problems := policy.Parse(merged, b.opts.Defaults)
	svc.Policy = pol
	svc.Problems = append(svc.Problems, problems...)
	for _, sh := range svc.Shards {
		b.judge(svc, sh)
		sh.ann = nil
	}
}

// judge decides whether sh is usable:
//
//	healthy = passive health is up (ready endpoints meet the minimums,
//	              after hysteresis; for a host shard, those of every
//	              backend Service, or of one with backends any, and its
//	              route is attached)
//	          and the probe, if the service has one, is up on some
//	              load-balancer address
//	usable  = healthy and the cluster is usable (up or stale)
//	          and the shard has a load-balancer address
//
// Shards with only cluster IPs are judged too (healthy), for the
// local-first resolver, which answers pods with them.
// A usable shard is degraded while some of its endpoints are not ready or
// its passive signal is failing without having fallen yet.
func (b *builder) judge(svc *Service, sh *Shard) {
	if !sh.HasAddress() && len(sh.ClusterIPs) == 0 {
		return // nothing could ever answer for it
	}
	pol := &svc.Policy
	rise, fall := max(pol.Probe.Rise, 1), max(pol.Probe.Fall, 1)
	key := HealthKey(svc, sh)
	up := Capacity(svc, sh)
	pending := false
	if b.v != nil {
		o := b.v.Passive(key, sh.passive, up, rise, fall)
		sh.passive = o.Handle()
		b.passive = append(b.passive, o)
		up, pending = o.Up(), o.Pending()
	}
	if pol.Probe.Check != health.None && sh.HasAddress() && !b.probe(svc, sh, key) {
		up = false
	}
	sh.Healthy = up
	sh.Usable = up && sh.HasAddress() && sh.Cluster.State.Usable()
	sh.Degraded = sh.Usable && (sh.Ready < sh.Total || pending)
	if sh.HasAddress() && !sh.Usable {
		svc.Degraded = true
	}
}

// HealthKey names the shard sh of svc for the health trackers. A host's
// Name is its host name, which has dots where a Service name never has
// one, so that a host and a Service of the same namespace and name (an
// Ingress and a Service both "shop/web") are tracked apart.
func HealthKey(svc *Service, sh *Shard) health.Key {
	name := svc.Name
	if svc.Host != "" {
		name = svc.Host
	}
	return health.Key{Cluster: sh.Cluster.Name, Namespace: svc.Namespace, Name: name}
}

// Capacity reports whether shard sh of svc has the capacity its policy
// asks for now, before hysteresis: the raw passive signal judge reads.
func Capacity(svc *Service, sh *Shard) bool {
	if svc.Host != "" {
		return hostCapacity(sh, &svc.Policy)
	}
	return hasCapacity(sh, &svc.Policy)
}

// hasCapacity reports whether the shard's ready endpoints meet the
// policy's minimum count and minimum share.
func hasCapacity(sh *Shard, pol *policy.Policy) bool {
	return enough(Counts{sh.Ready, sh.Total}, pol)
}

// enough reports whether the counts c meet the policy's minimum count and
// minimum share.
func enough(c Counts, pol *policy.Policy) bool {
	if c.Ready < max(pol.MinReady, 1) {
		return false
	}
	return pol.MinReadyFraction <= 0 || float64(c.Ready) >= pol.MinReadyFraction*float64(c.Total)
}

// hostCapacity reports whether a host shard has capacity: it is attached,
// and every backend Service (one, with backends any) has enough ready
// endpoints. A host whose rules name no backend Service (only Resource
// backends, or none) is judged by its address and probe alone: there is
// nothing of it to count.
func hostCapacity(sh *Shard, pol *policy.Policy) bool {
	if sh.Detached() {
		return false
	}
	backs := sh.Backends()
	if len(backs) == 0 {
		return true
	}
	for _, c := range backs {
		if enough(c, pol) == pol.AnyBackend {
			return pol.AnyBackend
		}
	}
	return !pol.AnyBackend
}

// probe adds the shard's probe targets to the build's and returns the
// probe's verdict: up when some address is up. Addresses whose probe is
// down are left out of the shard's answers while another one is up; a
// shard with no port to probe is not probed, and that is reported.
func (b *builder) probe(svc *Service, sh *Shard, key health.Key) bool {
	port, ok := probePort(&svc.Policy, sh)
	if !ok {
		svc.Problems = append(svc.Problems, policy.Problem{Annotation: policy.AnnProbePort, Value: svc.Policy.ProbePortName,
			Err: fmt.Errorf("%w: cluster %s: no TCP port to probe; the shard is judged by its endpoints alone", policy.ErrValue, sh.Cluster.Name)})
		return true
	}
	spec := svc.Policy.Probe
	spec.Port = port
	if spec.Host == "" && svc.Host != "" {
		spec.Host = probeHost(svc.Host)
	}
	sh.Probed = true
	check := func(tk health.TargetKey) bool {
		b.probes = append(b.probes, health.Target{TargetKey: tk, Spec: spec})
		return b.v == nil || b.v.Probe(tk)
	}
	if len(sh.V4)+len(sh.V6) == 0 {
		sh.ProbeUp = check(health.TargetKey{Key: key, Host: sh.Hostname, Port: port})
		return sh.ProbeUp
	}
	up4, down4 := split(sh.V4, port, key, check)
	up6, down6 := split(sh.V6, port, key, check)
	sh.ProbeUp = len(up4)+len(up6) > 0
	if sh.ProbeUp && down4+down6 > 0 {
		// A copy: the addresses it had are shared with other snapshots.
		a := *sh.Addrs
		a.V4, a.V6, a.IP4, a.IP6 = up4, up6, asIPs(up4), asIPs(up6)
		sh.setAddrs(&a)
	}
	return sh.ProbeUp
}

// probeHost is the Host header and TLS server name a host is probed with
// when the policy names none: the host itself, or for a wildcard a name it
// routes, "meridian-probe" in place of the "*".
func probeHost(host string) string {
	host = strings.TrimSuffix(host, ".")
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		return "meridian-probe." + rest
	}
	return host
}

// split probes every address and returns those that are up and how many
// are down. While none is down it returns addrs itself: nothing is copied
// for a shard whose addresses all pass.
func split(addrs []netip.Addr, port uint16, key health.Key, check func(health.TargetKey) bool) (up []netip.Addr, down int) {
	for i, a := range addrs {
		if check(health.TargetKey{Key: key, Addr: netip.AddrPortFrom(a, port)}) {
			if down > 0 {
				up = append(up, a)
			}
			continue
		}
		if down == 0 {
			up = append([]netip.Addr(nil), addrs[:i]...)
		}
		down++
	}
	if down == 0 {
		return addrs, 0
	}
	return up, down
}

// probePort is the port the policy probes on sh: the number it names, the
// shard's port of the name it names, or the shard's first TCP port. A
// host shard has no ports: it is probed where HTTP is served, 80 for the
// http check and 443 for https and tcp.
func probePort(pol *policy.Policy, sh *Shard) (uint16, bool) {
	if pol.Probe.Port != 0 {
		return pol.Probe.Port, true
	}
	if _, ok := sh.src.(*source.Ingress); ok && pol.ProbePortName == "" {
		if pol.Probe.Check == health.HTTP {
			return 80, true
		}
		return 443, true
	}
	for _, p := range sh.Ports {
		if p.Protocol == "tcp" && (pol.ProbePortName == "" || p.Name == pol.ProbePortName) {
			return p.Port, true
		}
	}
	return 0, false
}

package model

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// TestBuildReuse changes a small federation at random, one thing at a
// time, and checks after every change that the build from the snapshot
// before equals a fresh build of the same inputs (snapshot, probe targets
// and observations), that it made anew exactly the services the change
// touched, and that it took every other one from the snapshot before.
func TestBuildReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	w := newWorld()
	v := &fakeVerdicts{down: map[health.Key]bool{}, pending: map[health.Key]bool{}, probeDown: map[netip.Addr]bool{}}
	// c2's place and zones are configured: a new region from its Nodes
	// changes nothing else about it.
	opts := Options{Defaults: policy.Default(), ClusterIPs: true, Zones: []string{"example.com."},
		Overrides: map[string]Override{"c2": {Zones: []string{"z"}, Point: geo.Point{Lat: 1, Lon: 2}, Located: true}}}
	prev := Build(w.inputs(nil), v, opts).Snapshot
	if len(prev.Hosts) != 1 || len(prev.Wildcards) != 1 || len(prev.Conflicts) != 1 {
		t.Fatalf("the world has %d hosts, %d wildcards, %d conflicts; want 1 of each", len(prev.Hosts), len(prev.Wildcards), len(prev.Conflicts))
	}
	kinds := map[string]int{}
	for step := range 3000 {
		what, touched, touchedHost := w.change(r, v, prev)
		kinds[what]++
		in := w.inputs(prev)
		got := Build(in, v, opts)
		in.Prev = nil
		want := Build(in, v, opts)
		if !sameBuilt(got, want) {
			t.Fatalf("step %d (%s): the build from the snapshot before differs from a fresh build", step, what)
		}
		for k, svc := range got.Snapshot.Services {
			old := prev.Services[k]
			switch {
			case touched(k) && old == svc:
				t.Fatalf("step %d (%s): %v taken from the snapshot before although the change touched it", step, what, k)
			case !touched(k) && old != svc:
				t.Fatalf("step %d (%s): %v made anew although nothing it reads changed", step, what, k)
			}
		}
		for _, h := range allHosts(got.Snapshot) {
			old := prev.Hosts[h.Host]
			if h.Host[0] == '*' {
				old = prev.Wildcards[h.Host[2:]]
			}
			switch {
			case touchedHost(h.Host) && old == h:
				t.Fatalf("step %d (%s): host %s taken from the snapshot before although the change touched it", step, what, h.Host)
			case !touchedHost(h.Host) && old != h:
				t.Fatalf("step %d (%s): host %s made anew although nothing it reads changed", step, what, h.Host)
			}
		}
		prev = got.Snapshot
	}
	for _, k := range []string{"object", "copy", "endpoints", "state", "region", "zone", "passive", "pending", "probe", "annotation", "remove", "add",
		"ingress", "detach", "hostpassive", "swap", "owner"} {
		if kinds[k] == 0 {
			t.Errorf("no %q change in the run: the test does not cover it", k)
		}
	}
}

// world is a federation the test changes, as a source would: every change
// makes new objects and new lists, never changing one handed out.
type world struct {
	clusters map[string]*Input
}

const worldServices = 6

func newWorld() *world {
	w := &world{clusters: map[string]*Input{}}
	for c, region := range []string{"europe-west1", "us-east1", "asia-east1"} {
		name := "c" + strconv.Itoa(c)
		objs := source.Objects{Nodes: []*source.Node{{Name: "n", Region: region, Zone: region + "-b", Ready: true}}}
		for i := range worldServices {
			objs.Services = append(objs.Services, service(c, i, 0))
			objs.Endpoints = append(objs.Endpoints, slice(i, 2, 2))
		}
		objs.Ingresses = []*source.Ingress{ingress(c, "web", 0, false)}
		if c < 2 {
			objs.Ingresses = append(objs.Ingresses, ingress(c, "api", 0, false))
		} else { // a later claim on web's host, from another namespace
			other := ingress(c, "web", 0, false)
			other.Namespace, other.Created = "other", time.Unix(2000, 0)
			objs.Ingresses = append(objs.Ingresses, other)
		}
		w.clusters[name] = &Input{Objects: objs, State: health.Up}
	}
	return w
}

// worldHosts are the hosts of the world's Ingresses, by Ingress name, and
// their backends.
var worldHosts = map[string]source.Rule{
	"web": {Host: "shop.example.com.", Services: []string{"svc-0", "svc-1"}},
	"api": {Host: "*.api.example.com.", Services: []string{"svc-2"}},
}

func ingress(c int, name string, gen int, detached bool) *source.Ingress {
	in := &source.Ingress{Kind: source.KindIngress, Namespace: "ns", Name: name, Created: time.Unix(1000, 0),
		Rules:     []source.Rule{worldHosts[name]},
		Addresses: []netip.Addr{netip.AddrFrom4([4]byte{203, 0, byte(c), byte(gen)})}, Detached: detached}
	if name == "api" {
		in.Kind, in.Annotations = source.KindHTTPRoute, map[string]string{policy.AnnBackends: "any"}
	}
	return in
}

// allHosts returns the hosts of s, exact and wildcard.
func allHosts(s *Snapshot) []*Service {
	var all []*Service
	for _, m := range []map[string]*Service{s.Hosts, s.Wildcards} {
		for _, h := range m {
			all = append(all, h)
		}
	}
	return all
}

func service(c, i, gen int) *source.Service {
	s := &source.Service{Namespace: "ns", Name: "svc-" + strconv.Itoa(i),
		Addresses:  []netip.Addr{netip.AddrFrom4([4]byte{192, 0, byte(c), byte(i*10 + gen%10)})},
		ClusterIPs: []netip.Addr{netip.AddrFrom4([4]byte{10, 0, byte(c), byte(i)})},
		Ports:      []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}}
	if i%3 == 0 { // some services are probed, svc-0 on two addresses
		s.Annotations = map[string]string{policy.AnnProbe: "tcp"}
		if i == 0 {
			s.Addresses = append(s.Addresses, netip.AddrFrom4([4]byte{192, 0, byte(c), 200}))
		}
	}
	return s
}

func slice(i, ready, total int) *source.EndpointSlice {
	name := "svc-" + strconv.Itoa(i)
	return &source.EndpointSlice{Namespace: "ns", Name: name + "-1", Service: name, AddressType: "IPv4", Ready: ready, Total: total}
}

// inputs copies the clusters' inputs, as the pipeline's inbox does.
func (w *world) inputs(prev *Snapshot) Inputs {
	in := Inputs{Clusters: map[string]*Input{}, Serial: 7, Now: time.Unix(9, 0), Prev: prev}
	for name, ci := range w.clusters {
		cp := *ci
		in.Clusters[name] = &cp
	}
	return in
}

// change makes one random change and returns its kind, which services it
// touched and which hosts.
func (w *world) change(r *rand.Rand, v *fakeVerdicts, prev *Snapshot) (string, func(Key) bool, func(string) bool) {
	c, i := r.IntN(3), r.IntN(worldServices)
	name, k := "c"+strconv.Itoa(c), Key{"ns", "svc-" + strconv.Itoa(i)}
	kind := []string{"object", "copy", "endpoints", "state", "region", "passive", "pending", "probe", "annotation", "remove", "add", "zone",
		"ingress", "detach", "hostpassive", "swap", "owner"}[r.IntN(17)]
	j := slices.IndexFunc(w.clusters[name].Objects.Services, func(s *source.Service) bool { return s.Name == k.Name })
	none, noHost := func(Key) bool { return false }, func(string) bool { return false }
	switch kind {
	case "state", "region", "zone":
		if !w.changeCluster(name, kind) {
			return kind, none, noHost
		}
		return kind, w.inCluster(name), w.hostsIn(name, "")
	case "add", "remove":
		kind = w.addOrRemove(c, i, j, r)
	case "object", "copy", "annotation", "endpoints":
		if j < 0 {
			return "none", none, noHost
		}
		w.changeObject(c, i, j, kind, r)
		if kind == "endpoints" { // the hosts it is a backend of
			return kind, func(x Key) bool { return x == k }, w.hostsIn(name, k.Name)
		}
	case "ingress", "detach":
		ing := w.changeIngress(c, r.IntN(2), kind)
		owned := w.owner(worldHosts[ing].Host) == "ns" // ns/web's changes touch a host of other/web's not
		return kind, none, func(h string) bool { return h == worldHosts[ing].Host && owned }
	case "swap": // svc-0's and svc-1's counts trade places in one change
		if !w.swap(name) {
			return "none", none, noHost
		}
		in := w.inCluster(name)
		return kind, func(x Key) bool { return (x.Name == "svc-0" || x.Name == "svc-1") && in(x) }, w.hostsIn(name, "svc-0")
	case "owner": // other/web in c2 becomes older than ns/web, or newer again
		objs := w.clusters["c2"].Objects
		objs.Ingresses = slices.Clone(objs.Ingresses)
		other := *objs.Ingresses[1]
		other.Created = map[bool]time.Time{true: time.Unix(500, 0), false: time.Unix(2000, 0)}[other.Created.Unix() == 2000]
		objs.Ingresses[1] = &other
		w.setObjects("c2", objs)
		return kind, none, func(h string) bool { return h == worldHosts["web"].Host }
	case "hostpassive":
		ing := []string{"web", "api"}[r.IntN(2)]
		host := worldHosts[ing].Host
		old := prev.Hosts[host]
		if ing == "api" {
			old = prev.Wildcards[host[2:]]
		}
		// A host of other/web's is down whatever its verdict: namespace
		// other has no endpoints.
		return kind, none, v.changeHost(health.Key{Cluster: name, Namespace: "ns", Name: host}, old, w.owner(host) == "ns")
	default: // the verdicts
		if j < 0 {
			return "none", none, noHost
		}
		as := w.clusters[name].Objects.Services[j].Addresses
		return kind, v.change(kind, health.Key{Cluster: name, Namespace: k.Namespace, Name: k.Name}, as[r.IntN(len(as))], prev.Services[k]), noHost
	}
	return kind, func(x Key) bool { return x == k }, noHost
}

// swap trades the endpoint counts of svc-0 and svc-1 in cluster name, and
// reports whether they differed.
func (w *world) swap(name string) bool {
	objs := w.clusters[name].Objects
	eps := slices.Clone(objs.Endpoints)
	a := slices.IndexFunc(eps, func(e *source.EndpointSlice) bool { return e.Service == "svc-0" })
	b := slices.IndexFunc(eps, func(e *source.EndpointSlice) bool { return e.Service == "svc-1" })
	if eps[a].Ready == eps[b].Ready && eps[a].Total == eps[b].Total {
		return false
	}
	eps[a], eps[b] = slice(0, eps[b].Ready, eps[b].Total), slice(1, eps[a].Ready, eps[a].Total)
	objs.Endpoints = eps
	w.setObjects(name, objs)
	return true
}

// hostsIn returns whether a host has a shard in cluster name and, when
// backend is not "", a backend of that name there.
func (w *world) hostsIn(name, backend string) func(string) bool {
	return func(h string) bool {
		for _, in := range w.clusters[name].Objects.Ingresses {
			if in.Namespace == w.owner(h) && in.Rules[0].Host == h && (backend == "" || in.Namespace == "ns" && slices.Contains(in.Rules[0].Services, backend)) {
				return true
			}
		}
		return false
	}
}

// owner returns the namespace that owns host h: other/web's claim in c2
// is older than ns/web's while its creation time is 500.
func (w *world) owner(h string) string {
	if other := w.clusters["c2"].Objects.Ingresses[1]; h == other.Rules[0].Host && other.Created.Unix() == 500 {
		return "other"
	}
	return "ns"
}

// changeIngress replaces ns/web (which 0) or ns/api (1) in cluster c with
// a new object, attached or detached ("detach" flips it), and returns its
// name; c2 has no api, so there it changes web.
func (w *world) changeIngress(c, which int, kind string) string {
	name := "c" + strconv.Itoa(c)
	if c == 2 {
		which = 0
	}
	objs := w.clusters[name].Objects
	objs.Ingresses = slices.Clone(objs.Ingresses)
	old := objs.Ingresses[which]
	detached := old.Detached
	if kind == "detach" {
		detached = !detached
	}
	objs.Ingresses[which] = ingress(c, old.Name, int(old.Addresses[0].As4()[3]+1)%3, detached)
	w.setObjects(name, objs)
	return old.Name
}

// changeHost flips the passive verdict of host shard hk; h is the host
// before.
func (v *fakeVerdicts) changeHost(hk health.Key, h *Service, owned bool) func(string) bool {
	v.down[hk] = !v.down[hk]
	// A detached shard is down whatever its passive verdict.
	sh := h.shardIn(hk.Cluster)
	touched := owned && sh != nil && !sh.Detached()
	return func(x string) bool { return x == hk.Name && touched }
}

// setObjects makes objs the objects of cluster name, in a new Input.
func (w *world) setObjects(name string, objs source.Objects) {
	cp := *w.clusters[name]
	cp.Objects = objs
	w.clusters[name] = &cp
}

// addOrRemove adds svc-i to cluster c when it is not there (j < 0), else
// removes it, and says which it did.
func (w *world) addOrRemove(c, i, j int, r *rand.Rand) string {
	name := "c" + strconv.Itoa(c)
	objs := w.clusters[name].Objects
	if j < 0 {
		objs.Services = append(slices.Clone(objs.Services), service(c, i, r.IntN(10)))
		w.setObjects(name, objs)
		return "add"
	}
	objs.Services = slices.Delete(slices.Clone(objs.Services), j, j+1)
	w.setObjects(name, objs)
	return "remove"
}

// changeObject replaces svc-i's Service object (at j) in cluster c with a
// new one, a copy or one with other annotations, or its EndpointSlice with
// one of other counts.
func (w *world) changeObject(c, i, j int, kind string, r *rand.Rand) {
	name := "c" + strconv.Itoa(c)
	objs := w.clusters[name].Objects
	switch kind {
	case "endpoints":
		eps := slices.Clone(objs.Endpoints)
		for e := range eps {
			if eps[e].Service == "svc-"+strconv.Itoa(i) {
				ready, total := eps[e].Ready, eps[e].Total
				if r.IntN(2) == 0 {
					ready = ready%3 + 1 // 1, 2, 3 in turn
				} else {
					total = 7 - max(total, 3) // 3 and 4 in turn, above ready
				}
				eps[e] = slice(i, ready, total)
			}
		}
		objs.Endpoints = eps
	default:
		s := service(c, i, r.IntN(10))
		switch kind {
		case "copy":
			cp := *objs.Services[j]
			s = &cp
		case "annotation":
			s.Annotations = map[string]string{policy.AnnPolicy: "roundrobin"}
		}
		objs.Services = slices.Clone(objs.Services)
		objs.Services[j] = s
	}
	w.setObjects(name, objs)
}

// changeCluster moves cluster name to its next state, region or zone, and
// reports whether that changed the cluster (c2's zones are configured).
func (w *world) changeCluster(name, kind string) bool {
	ci := w.clusters[name]
	if kind == "state" {
		cp := *ci
		cp.State = []health.State{health.Up, health.Stale, health.Down}[(int(ci.State)+1)%3]
		w.clusters[name] = &cp
		return true
	}
	objs := ci.Objects
	n := *objs.Nodes[0]
	if kind == "region" {
		n.Region = map[string]string{"europe-west1": "europe-west4", "europe-west4": "europe-west1",
			"us-east1": "us-west1", "us-west1": "us-east1", "asia-east1": "asia-south1", "asia-south1": "asia-east1"}[n.Region]
		n.Zone = n.Region + "-b"
	} else {
		n.Zone = map[bool]string{true: n.Region + "-c", false: n.Region + "-b"}[n.Zone == n.Region+"-b"]
	}
	objs.Nodes = []*source.Node{&n}
	w.setObjects(name, objs)
	return kind == "region" || name != "c2"
}

// change flips the verdict of kind (passive, pending, probe of address a)
// for shard hk, and returns which services that touched: svc, the
// service before, tells whether the flip can change its shard.
func (v *fakeVerdicts) change(kind string, hk health.Key, a netip.Addr, svc *Service) func(Key) bool {
	var moves func(sh *Shard) bool
	switch kind {
	case "passive":
		v.down[hk] = !v.down[hk]
		// A shard whose probe is down is down whatever its passive state.
		moves = func(sh *Shard) bool { return !sh.Probed || sh.ProbeUp }
	case "pending":
		v.pending[hk] = !v.pending[hk]
		// A pending transition changes only a usable shard with no
		// endpoint unready: it makes it degraded, or not.
		moves = func(sh *Shard) bool { return sh.Usable && sh.Ready >= sh.Total }
	case "probe":
		v.probeDown[a] = !v.probeDown[a]
		// Only a probed shard reads it (its service's merged policy says).
		moves = func(sh *Shard) bool { return sh.Probed }
	}
	sh := svc.shardIn(hk.Cluster)
	touched := sh != nil && moves(sh)
	k := Key{hk.Namespace, hk.Name}
	return func(x Key) bool { return x == k && touched }
}

// inCluster returns whether a service has a shard in cluster name.
func (w *world) inCluster(name string) func(Key) bool {
	return func(k Key) bool {
		for _, s := range w.clusters[name].Objects.Services {
			if s.Name == k.Name {
				return true
			}
		}
		return false
	}
}

// fakeVerdicts are verdicts the test sets per shard and per address.
type fakeVerdicts struct {
	down, pending map[health.Key]bool
	probeDown     map[netip.Addr]bool
}

func (v *fakeVerdicts) Passive(k health.Key, _ health.Handle, ok bool, rise, fall int) health.Observation {
	return health.Observed(k, ok && !v.down[k], v.pending[k])
}

func (v *fakeVerdicts) Probe(t health.TargetKey) bool { return !v.probeDown[t.Addr.Addr()] }

// TestBuildReuseTracked is TestBuildReuse with a real passive tracker
// deciding the passive verdicts (rise and fall in time, on a fake clock),
// as the pipeline runs it: every build's observations are recorded before
// the next build, which judges each shard through the tracker's handle
// from the build before. Every build must equal a fresh one, and most
// services must still be shared from one snapshot to the next.
func TestBuildReuseTracked(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	w := newWorld()
	clk := clock.NewFake(time.Unix(100, 0))
	fake := &fakeVerdicts{down: map[health.Key]bool{}, pending: map[health.Key]bool{}, probeDown: map[netip.Addr]bool{}}
	v := trackedVerdicts{health.NewPassive(health.PassiveConfig{Clock: clk}), fake}
	opts := Options{Defaults: policy.Default(), ClusterIPs: true, Zones: []string{"example.com."}}
	first := Build(w.inputs(nil), v, opts)
	v.p.Record(first.Passive)
	prev := first.Snapshot
	shared, total := 0, 0
	for step := range 2000 {
		clk.Advance(time.Duration(r.IntN(400)) * time.Millisecond)
		what, _, _ := w.change(r, fake, prev)
		in := w.inputs(prev)
		got := Build(in, v, opts)
		in.Prev = nil
		if want := Build(in, v, opts); !sameBuilt(got, want) {
			t.Fatalf("step %d (%s): the build from the snapshot before differs from a fresh build", step, what)
		}
		for k, svc := range got.Snapshot.Services {
			total++
			if prev.Services[k] == svc {
				shared++
			}
		}
		v.p.Record(got.Passive)
		prev = got.Snapshot
	}
	if shared < total/2 {
		t.Errorf("%d of %d services shared with the snapshot before, want at least half", shared, total)
	}
	// With nothing changed, every shard has the tracker's handle after
	// one more build (maxUpgrades is above the services here).
	last := Build(w.inputs(prev), v, opts).Snapshot
	for k, svc := range last.Services {
		for _, sh := range svc.Shards {
			if sh.passive == (health.Handle{}) {
				t.Errorf("%v in %s: no passive handle after a build with nothing changed", k, sh.Cluster.Name)
			}
		}
	}
}

// trackedVerdicts are passive verdicts from a real tracker, fed the
// signal the test sets (fakeVerdicts.down), and the fake's probes.
type trackedVerdicts struct {
	p *health.Passive
	f *fakeVerdicts
}

func (v trackedVerdicts) Passive(k health.Key, h health.Handle, ok bool, rise, fall int) health.Observation {
	return v.p.JudgeAt(k, h, ok && !v.f.down[k], rise, fall)
}

func (v trackedVerdicts) Probe(t health.TargetKey) bool { return v.f.Probe(t) }

// sameBuilt reports whether a and b are the same builds but for the
// shards' passive handles, which only spare the tracker a lookup: a shard
// shared from the snapshot before may have none where a fresh build has
// one (maxUpgrades).
func sameBuilt(a, b Built) bool {
	sa, sb := *a.Snapshot, *b.Snapshot
	sa.Services, sb.Services, sa.Hosts, sb.Hosts, sa.Wildcards, sb.Wildcards = nil, nil, nil, nil, nil, nil
	if !reflect.DeepEqual(sa, sb) || !reflect.DeepEqual(a.Probes, b.Probes) || !reflect.DeepEqual(a.Passive, b.Passive) {
		return false
	}
	return sameServices(a.Snapshot.Services, b.Snapshot.Services) && sameServices(a.Snapshot.Hosts, b.Snapshot.Hosts) &&
		sameServices(a.Snapshot.Wildcards, b.Snapshot.Wildcards)
}

// sameServices reports whether a and b hold equal services but for the
// shards' passive handles.
func sameServices[K comparable](a, b map[K]*Service) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y := b[k]
		if y == nil || len(x.Shards) != len(y.Shards) {
			return false
		}
		vx, vy := *x, *y
		vx.Shards, vy.Shards = nil, nil
		if !reflect.DeepEqual(vx, vy) {
			return false
		}
		for i := range x.Shards {
			hx, hy := *x.Shards[i], *y.Shards[i]
			hx.passive, hy.passive = health.Handle{}, health.Handle{}
			if !reflect.DeepEqual(hx, hy) {
				return false
			}
		}
	}
	return true
}

package kube

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
)

// member watches one member cluster: informers on Nodes, Services and
// EndpointSlices, and a liveness probe of its API server.
type member struct {
	name   string
	client kubernetes.Interface
	gw     gateway.Interface // nil: the Gateway API kinds are not read
	opts   *Options
	sink   source.Sink
	tf     transforms

	listed atomic.Bool   // the first list is in: events go to the sink
	synced atomic.Bool   // the sink has been told of the first list
	syncs  chan struct{} // shared by the members: limits parallel first lists

	nodes, services, slices cache.SharedIndexInformer
	// optional are the kinds the cluster may refuse (see optional.go),
	// made by the factories (gwf is nil without gw).
	optional []*optionalKind
	f        informers.SharedInformerFactory
	gwf      gwinformers.SharedInformerFactory
	// joined are the routes as last joined with their Gateways (route.go).
	joinMu sync.Mutex
	joined map[*object]*joinedRoute
}

func newMember(name string, client kubernetes.Interface, gw gateway.Interface, opts *Options, sink source.Sink, syncs chan struct{}) *member {
	m := &member{
		name: name, client: client, gw: gw, opts: opts, sink: sink, syncs: syncs,
		tf: transforms{selector: opts.Selector, namespaces: opts.namespaceSet()},
	}
	m.optional = m.optionalKinds()
	return m
}

// run watches the cluster until ctx is done. Every event tells the sink
// that the cluster changed; the sink lists the informers' caches
// (Objects) once per burst, in its own settle window.
func (m *member) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait() // nothing of this member reaches the sink after run returns
	wg.Go(func() { m.liveness(ctx) })
	ok := m.firstSync(ctx, &wg)
	defer m.shutdown() // before wg.Wait: the informers' handlers stop first
	if !ok {
		return
	}
	m.listed.Store(true)
	m.sink.Update(m.name, m)
	m.synced.Store(true)
	m.opts.Logger.Infof("kube: cluster %q synced", m.name)
	<-ctx.Done()
}

// firstSync starts the informers, once a sync slot is free, and waits for
// their first full list. The informers stop when ctx is done.
func (m *member) firstSync(ctx context.Context, wg *sync.WaitGroup) bool {
	f := informers.NewSharedInformerFactoryWithOptions(m.client, 0)
	m.f = f
	if m.gw != nil {
		m.gwf = gwinformers.NewSharedInformerFactoryWithOptions(m.gw, 0)
	}
	select {
	case m.syncs <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-m.syncs }()
	// Without the factory's namespace index: nothing looks objects up by
	// namespace, and the index would hold a second key per object.
	m.nodes = m.informer(f.InformerFor(&corev1.Node{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return coreinformers.NewNodeInformer(c, resync, cache.Indexers{})
	}), m.tf.node)
	m.services = m.informer(f.InformerFor(&corev1.Service{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return coreinformers.NewServiceInformer(c, metav1.NamespaceAll, resync, cache.Indexers{})
	}), m.tf.service)
	m.slices = m.informer(f.InformerFor(&discoveryv1.EndpointSlice{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return discoveryinformers.NewEndpointSliceInformer(c, metav1.NamespaceAll, resync, cache.Indexers{})
	}), m.tf.endpointSlice)
	synced := []cache.InformerSynced{m.nodes.HasSynced, m.services.HasSynced, m.slices.HasSynced}
	for _, o := range m.optional {
		if inf, ok := o.try(ctx); ok {
			synced = append(synced, inf.HasSynced)
		} else {
			wg.Go(func() { o.retry(ctx) })
		}
	}
	m.start(ctx.Done())
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// start starts the informers made since the last start.
func (m *member) start(stop <-chan struct{}) {
	m.f.Start(stop)
	if m.gwf != nil {
		m.gwf.Start(stop)
	}
}

// shutdown stops the informers and waits for them.
func (m *member) shutdown() {
	if m.f != nil {
		m.f.Shutdown()
	}
	if m.gwf != nil {
		m.gwf.Shutdown()
	}
}

func (m *member) informer(inf cache.SharedIndexInformer, tf cache.TransformFunc) cache.SharedIndexInformer {
	// Both only fail once the informer has started.
	_ = inf.SetTransform(tf)
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		m.opts.Logger.Debugf("kube: cluster %q: watch: %v", m.name, err)
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { m.changed(obj) },
		UpdateFunc: func(_, obj any) { m.changed(obj) },
		DeleteFunc: func(any) { m.kick() },
	})
	return inf
}

// changed reports a new or updated object that was skipped for bad data
// (once per version, as events come once per version) and tells the sink
// that the cluster changed.
func (m *member) changed(obj any) {
	if o, ok := obj.(*object); ok && o.err != nil {
		m.sink.Error(m.name, o.err)
	}
	m.kick()
}

// kick tells the sink that the cluster changed, once its first list is in.
func (m *member) kick() {
	if m.listed.Load() {
		m.sink.Update(m.name, m)
	}
}

// Objects implements source.Lister: the cluster's objects as the informers'
// caches hold them now, with the change time and fingerprint of those it
// keeps.
func (m *member) Objects() source.Objects {
	objs := source.Objects{Synced: m.opts.Clock.Now()}
	var kept []*object
	for _, x := range m.nodes.GetStore().List() {
		if o := x.(*object); o.node != nil {
			objs.Nodes = append(objs.Nodes, o.node)
			kept = append(kept, o)
		}
	}
	for _, x := range m.services.GetStore().List() {
		switch o := x.(*object); {
		case o.ignored:
			objs.Ignored++
		case o.err != nil:
			objs.Invalid++
		default:
			objs.Services = append(objs.Services, o.service)
			kept = append(kept, o)
		}
	}
	for _, x := range m.slices.GetStore().List() {
		switch o := x.(*object); {
		case o.err != nil:
			objs.Invalid++
		case o.slice != nil:
			objs.Endpoints = append(objs.Endpoints, o.slice)
			kept = append(kept, o)
		}
	}
	var routes []*object
	gateways := map[string]*object{}
	for _, o := range m.optional {
		inf := o.informer()
		if inf == nil {
			objs.Missing = append(objs.Missing, o.kind)
			continue
		}
		for _, x := range inf.GetStore().List() {
			switch o := x.(*object); {
			case o.ignored:
				objs.Ignored++
			case o.err != nil:
				objs.Invalid++
			case o.ingress != nil:
				objs.Ingresses = append(objs.Ingresses, o.ingress)
				kept = append(kept, o)
			case o.route != nil:
				routes = append(routes, o)
				kept = append(kept, o)
			case o.gateway != nil:
				gateways[o.namespace+"/"+o.name] = o
				kept = append(kept, o)
			}
		}
	}
	objs.Ingresses = append(objs.Ingresses, m.join(routes, gateways)...)
	objs.Changed, objs.Fingerprint = stampObjects(kept)
	return objs
}

// liveness probes the API server's /readyz and moves the cluster between
// up, stale (no answer for StaleAfter: its last state is still served) and
// down (no answer for DownAfter: its shards are not used). Every change is
// logged once. The first probe's state is always told to the sink: a
// member restarted by a kubeconfig change must not inherit the state its
// previous connection left (a stale one stayed stale once it synced).
func (m *member) liveness(ctx context.Context) {
	t := time.NewTicker(m.opts.ProbeInterval)
	defer t.Stop()
	lastOK, state, told := m.opts.Clock.Now(), health.Up, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, m.opts.ProbeInterval)
		_, err := m.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(pctx)
		cancel()
		now := m.opts.Clock.Now()
		if err == nil {
			lastOK = now
		}
		next := health.Up
		switch since := now.Sub(lastOK); {
		case since >= m.opts.DownAfter:
			next = health.Down
		case since >= m.opts.StaleAfter:
			next = health.Stale
		}
		if (next == state && told) || ctx.Err() != nil {
			continue
		}
		switch {
		case next == health.Up && !told: // the first probe: nothing changed here
		case next == health.Up:
			m.opts.Logger.Infof("kube: cluster %q is up again", m.name)
		default:
			m.opts.Logger.Warningf("kube: cluster %q is %s: its API server last answered %s ago (%v)", m.name, next, now.Sub(lastOK).Round(time.Second), err)
		}
		state, told = next, true
		m.sink.SetState(m.name, state)
	}
}

package kube

import (
	"context"
	"sync/atomic"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	networkinginformers "k8s.io/client-go/informers/networking/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/meridian-dns/meridian/plugin/source"
)

// Optional kinds: a member cluster may refuse to list a kind Meridian reads
// for Federated Ingress (its RBAC not yet granted by an older deploy/rbac.yaml,
// or a Gateway API CRD not installed). Such a kind must not hold the cluster's
// first sync: it is tried with one small list first, and when refused, it is
// skipped for that cluster, logged once, reported in source.Objects.Missing
// (a metric), and tried again every KindRetry, so that RBAC granted or CRDs
// installed later are picked up without a restart.

// DefaultKindRetry is how often a refused kind is tried again.
const DefaultKindRetry = 10 * time.Second

// optionalKind is one kind a cluster may refuse.
type optionalKind struct {
	m    *member
	kind string // source.KindIngress, ...
	// list asks for one object of the kind, to learn whether the cluster
	// serves it to Meridian.
	list func(ctx context.Context) error
	// make registers the kind's informer with the factory.
	make func(f informers.SharedInformerFactory) cache.SharedIndexInformer
	inf  atomic.Pointer[cache.SharedIndexInformer] // nil until the kind is read
}

// optionalKinds are the member's optional kinds.
func (m *member) optionalKinds() []*optionalKind {
	return []*optionalKind{{
		m: m, kind: source.KindIngress,
		list: func(ctx context.Context) error {
			_, err := m.client.NetworkingV1().Ingresses(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1})
			return err
		},
		make: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return m.informer(f.InformerFor(&networkingv1.Ingress{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
				return networkinginformers.NewIngressInformer(c, metav1.NamespaceAll, resync, cache.Indexers{})
			}), m.tf.ingress)
		},
	}}
}

// informer returns the kind's informer once it is read, else nil.
func (o *optionalKind) informer() cache.SharedIndexInformer {
	if p := o.inf.Load(); p != nil {
		return *p
	}
	return nil
}

// try lists the kind once and, when the cluster serves it, registers its
// informer with f (the caller starts it). When it does not, it logs why.
func (o *optionalKind) try(ctx context.Context, f informers.SharedInformerFactory) (cache.SharedIndexInformer, bool) {
	lctx, cancel := context.WithTimeout(ctx, o.m.opts.ProbeInterval+5*time.Second)
	err := o.list(lctx)
	cancel()
	if err != nil {
		o.m.opts.Logger.Warningf("kube: cluster %q: %s objects are not read: %v; trying again every %s (Meridian's role needs get, list and watch on them)",
			o.m.name, o.kind, err, o.m.opts.KindRetry)
		return nil, false
	}
	inf := o.make(f)
	o.inf.Store(&inf)
	return inf, true
}

// retry tries the kind every KindRetry until the cluster serves it, then
// starts its informer, waits for its first list and tells the sink.
func (o *optionalKind) retry(ctx context.Context, f informers.SharedInformerFactory) {
	t := time.NewTicker(o.m.opts.KindRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, o.m.opts.KindRetry)
		err := o.list(lctx)
		cancel()
		if err != nil {
			o.m.opts.Logger.Debugf("kube: cluster %q: %s objects still not read: %v", o.m.name, o.kind, err)
			continue
		}
		inf := o.make(f)
		f.Start(ctx.Done())
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return
		}
		o.inf.Store(&inf)
		o.m.opts.Logger.Infof("kube: cluster %q: %s objects are read now", o.m.name, o.kind)
		o.m.kick()
		return
	}
}

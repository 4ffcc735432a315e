package kube

import (
	"context"
	"sync/atomic"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	networkinginformers "k8s.io/client-go/informers/networking/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwv1informers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions/apis/v1"

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
	// make registers the kind's informer with its factory (the member's
	// f or gwf), which member.start starts.
	make func() cache.SharedIndexInformer
	inf  atomic.Pointer[cache.SharedIndexInformer] // nil until the kind is read
}

// optionalKinds are the member's optional kinds: Ingresses, and with a
// Gateway API client, Gateways and the routes.
func (m *member) optionalKinds() []*optionalKind {
	one := metav1.ListOptions{Limit: 1}
	all := metav1.NamespaceAll
	kinds := []*optionalKind{{
		m: m, kind: source.KindIngress,
		list: func(ctx context.Context) error {
			_, err := m.client.NetworkingV1().Ingresses(all).List(ctx, one)
			return err
		},
		make: func() cache.SharedIndexInformer {
			return m.informer(m.f.InformerFor(&networkingv1.Ingress{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
				return networkinginformers.NewIngressInformer(c, all, resync, cache.Indexers{})
			}), m.tf.ingress)
		},
	}}
	if m.gw == nil {
		return kinds
	}
	gwInformer := func(obj runtime.Object, newInformer func(c gateway.Interface, resync time.Duration) cache.SharedIndexInformer, tf cache.TransformFunc) func() cache.SharedIndexInformer {
		return func() cache.SharedIndexInformer {
			return m.informer(m.gwf.InformerFor(obj, func(c gateway.Interface, resync time.Duration) cache.SharedIndexInformer {
				return newInformer(c, resync)
			}), tf)
		}
	}
	return append(kinds,
		&optionalKind{m: m, kind: KindGateway,
			list: func(ctx context.Context) error {
				_, err := m.gw.GatewayV1().Gateways(all).List(ctx, one)
				return err
			},
			make: gwInformer(&gatewayv1.Gateway{}, func(c gateway.Interface, resync time.Duration) cache.SharedIndexInformer {
				return gwv1informers.NewGatewayInformer(c, all, resync, cache.Indexers{})
			}, m.tf.gateway),
		},
		&optionalKind{m: m, kind: source.KindHTTPRoute,
			list: func(ctx context.Context) error {
				_, err := m.gw.GatewayV1().HTTPRoutes(all).List(ctx, one)
				return err
			},
			make: gwInformer(&gatewayv1.HTTPRoute{}, func(c gateway.Interface, resync time.Duration) cache.SharedIndexInformer {
				return gwv1informers.NewHTTPRouteInformer(c, all, resync, cache.Indexers{})
			}, m.tf.httpRoute),
		},
		&optionalKind{m: m, kind: source.KindGRPCRoute,
			list: func(ctx context.Context) error {
				_, err := m.gw.GatewayV1().GRPCRoutes(all).List(ctx, one)
				return err
			},
			make: gwInformer(&gatewayv1.GRPCRoute{}, func(c gateway.Interface, resync time.Duration) cache.SharedIndexInformer {
				return gwv1informers.NewGRPCRouteInformer(c, all, resync, cache.Indexers{})
			}, m.tf.grpcRoute),
		},
	)
}

// KindGateway is the kind of Gateway API Gateways, as source.Objects.Missing
// names it.
const KindGateway = "Gateway"

// informer returns the kind's informer once it is read, else nil.
func (o *optionalKind) informer() cache.SharedIndexInformer {
	if p := o.inf.Load(); p != nil {
		return *p
	}
	return nil
}

// try lists the kind once and, when the cluster serves it, registers its
// informer (the caller starts it). When it does not, it logs why.
func (o *optionalKind) try(ctx context.Context) (cache.SharedIndexInformer, bool) {
	lctx, cancel := context.WithTimeout(ctx, o.m.opts.ProbeInterval+5*time.Second)
	err := o.list(lctx)
	cancel()
	if err != nil {
		o.m.opts.Logger.Warningf("kube: cluster %q: %s objects are not read: %v; trying again every %s (Meridian's role needs get, list and watch on them)",
			o.m.name, o.kind, err, o.m.opts.KindRetry)
		return nil, false
	}
	inf := o.make()
	o.inf.Store(&inf)
	return inf, true
}

// retry tries the kind every KindRetry until the cluster serves it, then
// starts its informer, waits for its first list and tells the sink.
func (o *optionalKind) retry(ctx context.Context) {
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
		inf := o.make()
		o.m.start(ctx.Done())
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return
		}
		o.inf.Store(&inf)
		o.m.opts.Logger.Infof("kube: cluster %q: %s objects are read now", o.m.name, o.kind)
		o.m.kick()
		return
	}
}

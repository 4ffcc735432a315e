package kube

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/kubeobj"
)

// object is what the informer caches hold instead of API objects: the
// object's identity and the small struct converted from it, or the reason
// it was skipped. It is immutable once made.
type object struct {
	meta // name, namespace and resource version: what the cache keys by

	node    *source.Node
	service *source.Service
	slice   *source.EndpointSlice
	ingress *source.Ingress
	route   *kubeobj.Route   // an HTTPRoute or GRPCRoute, joined with its Gateways in Objects
	gateway *kubeobj.Gateway // read whatever its labels: the routes are what the selector picks
	ignored bool             // a Service or Ingress without the federation label
	err     error            // conversion failed: the object is skipped

	// changed (Unix nanoseconds, 0 for none: a time.Time would take 24
	// bytes of every cached object) and fp are the change time and
	// fingerprint of a kept object (see stamp), from which the SOA serial
	// is derived.
	changed int64
	fp      uint64
}

// changedAt returns the change time of a kept object.
func (o *object) changedAt() time.Time { return unixNano(o.changed) }

// unixNano is time.Unix(0, ns), with 0 for the zero time.
func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// DeepCopyObject implements runtime.Object; objects are never mutated.
func (o *object) DeepCopyObject() runtime.Object { return o }

// GetObjectKind implements runtime.Object.
func (o *object) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// transforms converts API objects at the informer (client-go SetTransform),
// so full objects never stay in memory. It keeps what the filter says.
type transforms struct {
	selector   labels.Selector
	namespaces map[string]bool // nil: every namespace
}

func (t transforms) inNamespace(ns string) bool {
	return t.namespaces == nil || t.namespaces[ns]
}

// node is the TransformFunc of the Node informer.
func (t transforms) node(in any) (any, error) {
	n, ok := in.(*corev1.Node)
	if !ok {
		return in, nil // already transformed, or a tombstone
	}
	sn := kubeobj.FromNode(n)
	o := &object{meta: metaOf(&n.ObjectMeta), node: &sn}
	return o.stamp("Node", nodeChangeTime(n), sn), nil
}

// service is the TransformFunc of the Service informer.
func (t transforms) service(in any) (any, error) {
	s, ok := in.(*corev1.Service)
	if !ok {
		return in, nil
	}
	o := &object{meta: metaOf(&s.ObjectMeta)}
	if !t.inNamespace(s.Namespace) || !t.selector.Matches(labels.Set(s.Labels)) {
		o.ignored = true
		return o, nil
	}
	ss, err := kubeobj.FromService(s)
	if err != nil {
		o.err = err
		return o, nil
	}
	o.service = &ss
	return o.stamp("Service", changeTime(&s.ObjectMeta, false), ss), nil
}

// endpointSlice is the TransformFunc of the EndpointSlice informer.
func (t transforms) endpointSlice(in any) (any, error) {
	e, ok := in.(*discoveryv1.EndpointSlice)
	if !ok {
		return in, nil
	}
	o := &object{meta: metaOf(&e.ObjectMeta)}
	if !t.inNamespace(e.Namespace) {
		o.ignored = true
		return o, nil
	}
	se, err := kubeobj.FromEndpointSlice(e)
	if err != nil {
		o.err = err
		return o, nil
	}
	o.slice = &se
	return o.stamp("EndpointSlice", changeTime(&e.ObjectMeta, false), se), nil
}

// ingress is the TransformFunc of the Ingress informer: the Service
// filter (namespaces, federation selector) applies.
func (t transforms) ingress(in any) (any, error) {
	i, ok := in.(*networkingv1.Ingress)
	if !ok {
		return in, nil
	}
	o := &object{meta: metaOf(&i.ObjectMeta)}
	if !t.inNamespace(i.Namespace) || !t.selector.Matches(labels.Set(i.Labels)) {
		o.ignored = true
		return o, nil
	}
	si, err := kubeobj.FromIngress(i)
	if err != nil {
		o.err = err
		return o, nil
	}
	o.ingress = &si
	return o.stamp("Ingress", changeTime(&i.ObjectMeta, false), si), nil
}

// httpRoute is the TransformFunc of the HTTPRoute informer.
func (t transforms) httpRoute(in any) (any, error) {
	r, ok := in.(*gatewayv1.HTTPRoute)
	if !ok {
		return in, nil
	}
	return t.route(&r.ObjectMeta, func() (kubeobj.Route, error) { return kubeobj.FromHTTPRoute(r) })
}

// grpcRoute is the TransformFunc of the GRPCRoute informer.
func (t transforms) grpcRoute(in any) (any, error) {
	r, ok := in.(*gatewayv1.GRPCRoute)
	if !ok {
		return in, nil
	}
	return t.route(&r.ObjectMeta, func() (kubeobj.Route, error) { return kubeobj.FromGRPCRoute(r) })
}

// route converts a route whose metadata is m: the Service filter
// (namespaces, federation selector) applies.
func (t transforms) route(m *metav1.ObjectMeta, convert func() (kubeobj.Route, error)) (any, error) {
	o := &object{meta: metaOf(m)}
	if !t.inNamespace(m.Namespace) || !t.selector.Matches(labels.Set(m.Labels)) {
		o.ignored = true
		return o, nil
	}
	r, err := convert()
	if err != nil {
		o.err = err
		return o, nil
	}
	o.route = &r
	// Status changes count: a route's status says which Gateways accepted it.
	return o.stamp(r.Kind, changeTime(m, false), r), nil
}

// gateway is the TransformFunc of the Gateway informer. Gateways are read
// in every namespace and whatever their labels: a route of a federated
// namespace may attach to a Gateway of an infrastructure namespace.
func (t transforms) gateway(in any) (any, error) {
	g, ok := in.(*gatewayv1.Gateway)
	if !ok {
		return in, nil
	}
	o := &object{meta: metaOf(&g.ObjectMeta)}
	sg, err := kubeobj.FromGateway(g)
	if err != nil {
		o.err = err
		return o, nil
	}
	o.gateway = &sg
	return o.stamp("Gateway", changeTime(&g.ObjectMeta, false), sg), nil
}

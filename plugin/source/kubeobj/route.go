package kubeobj

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-dns/meridian/internal/dnsname"
	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/source"
)

// Gateway API: an HTTPRoute or GRPCRoute names its hosts, and the Gateways
// it is attached to give its addresses and may narrow its hosts (a
// listener's hostname). The two kinds change apart, so each converts to a
// struct of its own here, and JoinRoute makes the source.Ingress of a route
// from its struct and its Gateways' when a source lists its objects.

// Route is the part of an HTTPRoute or a GRPCRoute that JoinRoute reads.
type Route struct {
	Kind      string // source.KindHTTPRoute or source.KindGRPCRoute
	Namespace string
	Name      string
	Created   time.Time
	// Hostnames are spec.hostnames, parsed; none means any host.
	Hostnames []hosts.Host
	// Parents are the Gateways that have Accepted the route
	// (status.parents with condition Accepted=True), each once.
	Parents []Parent
	// Services are the backend Services of every rule in the route's own
	// namespace, sorted, each once.
	Services    []string
	Annotations map[string]string
}

// Parent is a Gateway a route is attached to, and the listener it names
// ("" for all of the Gateway's listeners).
type Parent struct {
	Namespace, Name string
	Section         string
}

// Gateway is the part of a Gateway that JoinRoute reads.
type Gateway struct {
	Namespace, Name string
	// Programmed is the Gateway's Programmed condition: its data plane is
	// configured and its addresses serve.
	Programmed bool
	// Addresses and Hostnames are status.addresses: IPs and hostnames.
	Addresses []netip.Addr
	Hostnames []string
	Listeners []Listener
}

// Listener is one listener of a Gateway: its name and its hostname (nil:
// any host).
type Listener struct {
	Name     string
	Hostname *hosts.Host
}

// FromHTTPRoute converts a gateway.networking.k8s.io/v1 HTTPRoute. It
// returns an error wrapping source.ErrInvalid when the route has no name,
// a hostname is not a host name, or a backend Service name is not a DNS
// label.
func FromHTTPRoute(r *gatewayv1.HTTPRoute) (Route, error) {
	var backends []gatewayv1.BackendObjectReference
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			backends = append(backends, b.BackendObjectReference)
		}
	}
	return fromRoute(source.KindHTTPRoute, &r.ObjectMeta, r.Spec.Hostnames, r.Status.Parents, backends)
}

// FromGRPCRoute converts a gateway.networking.k8s.io/v1 GRPCRoute, as
// FromHTTPRoute does an HTTPRoute.
func FromGRPCRoute(r *gatewayv1.GRPCRoute) (Route, error) {
	var backends []gatewayv1.BackendObjectReference
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			backends = append(backends, b.BackendObjectReference)
		}
	}
	return fromRoute(source.KindGRPCRoute, &r.ObjectMeta, r.Spec.Hostnames, r.Status.Parents, backends)
}

func fromRoute(kind string, m *metav1.ObjectMeta, hostnames []gatewayv1.Hostname, parents []gatewayv1.RouteParentStatus,
	backends []gatewayv1.BackendObjectReference) (Route, error) {
	if m.Name == "" {
		return Route{}, fmt.Errorf("%s in namespace %q: no name: %w", kind, m.Namespace, source.ErrInvalid)
	}
	wrap := func(err error) error {
		return fmt.Errorf("%s %s/%s: %w", kind, m.Namespace, m.Name, err)
	}
	out := Route{Kind: kind, Namespace: Intern(m.Namespace), Name: m.Name, Created: m.CreationTimestamp.Time, Annotations: owned(m.Annotations)}
	for i, h := range hostnames {
		host, err := hosts.Parse(string(h))
		if err != nil {
			return Route{}, wrap(fmt.Errorf("spec.hostnames[%d]: %v: %w", i, err, source.ErrInvalid))
		}
		out.Hostnames = append(out.Hostnames, host)
	}
	for _, p := range parents {
		ref := p.ParentRef
		if !isGateway(ref.Group, ref.Kind) || !meta.IsStatusConditionTrue(p.Conditions, string(gatewayv1.RouteConditionAccepted)) {
			continue
		}
		pa := Parent{Namespace: out.Namespace, Name: string(ref.Name)}
		if ref.Namespace != nil && *ref.Namespace != "" {
			pa.Namespace = Intern(string(*ref.Namespace))
		}
		if ref.SectionName != nil {
			pa.Section = string(*ref.SectionName)
		}
		if !slices.Contains(out.Parents, pa) { // one entry per controller that reports it
			out.Parents = append(out.Parents, pa)
		}
	}
	for i, b := range backends {
		// Services in the route's own namespace; others (another
		// namespace through a ReferenceGrant, other kinds) are not judged.
		if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") ||
			(b.Namespace != nil && string(*b.Namespace) != m.Namespace) {
			continue
		}
		if !dnsname.IsLabel(string(b.Name)) {
			return Route{}, wrap(fmt.Errorf("backendRefs[%d].name %q is not a Service name: %w", i, b.Name, source.ErrInvalid))
		}
		if at, found := slices.BinarySearch(out.Services, string(b.Name)); !found {
			out.Services = slices.Insert(out.Services, at, string(b.Name))
		}
	}
	return out, nil
}

// isGateway reports whether a parent reference names a Gateway (the
// defaults of group and kind).
func isGateway(group *gatewayv1.Group, kind *gatewayv1.Kind) bool {
	return (group == nil || *group == gatewayv1.GroupName) && (kind == nil || *kind == "Gateway")
}

// FromGateway converts a gateway.networking.k8s.io/v1 Gateway. It returns
// an error wrapping source.ErrInvalid when the Gateway has no name, a
// listener's hostname is not a host name, or a status address cannot be
// used (addresses of a type other than IPAddress and Hostname are left
// out).
func FromGateway(g *gatewayv1.Gateway) (Gateway, error) {
	if g.Name == "" {
		return Gateway{}, fmt.Errorf("gateway in namespace %q: no name: %w", g.Namespace, source.ErrInvalid)
	}
	wrap := func(err error) error {
		return fmt.Errorf("gateway %s/%s: %w", g.Namespace, g.Name, err)
	}
	out := Gateway{Namespace: Intern(g.Namespace), Name: g.Name,
		Programmed: meta.IsStatusConditionTrue(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))}
	for i, l := range g.Spec.Listeners {
		ln := Listener{Name: string(l.Name)}
		if l.Hostname != nil && *l.Hostname != "" {
			h, err := hosts.Parse(string(*l.Hostname))
			if err != nil {
				return Gateway{}, wrap(fmt.Errorf("spec.listeners[%d].hostname: %v: %w", i, err, source.ErrInvalid))
			}
			ln.Hostname = &h
		}
		out.Listeners = append(out.Listeners, ln)
	}
	var points []corev1.LoadBalancerIngress
	for _, a := range g.Status.Addresses {
		switch {
		case a.Type == nil || *a.Type == gatewayv1.IPAddressType:
			points = append(points, corev1.LoadBalancerIngress{IP: a.Value})
		case *a.Type == gatewayv1.HostnameAddressType:
			points = append(points, corev1.LoadBalancerIngress{Hostname: a.Value})
		}
	}
	var err error
	if out.Addresses, out.Hostnames, err = ingress(points); err != nil {
		return Gateway{}, wrap(err)
	}
	return out, nil
}

// JoinRoute makes the source.Ingress of route r, attached to the Gateways
// that gateway finds (nil when a cluster has no such Gateway):
//
//   - its hosts are, for each Gateway that Accepted it and each listener
//     it attaches to, its hostnames narrowed by the listener's
//     (hosts.Effective), each once; with no such Gateway in the cluster,
//     its own hostnames, so that its claim on them stands;
//   - its addresses are those of the Programmed ones among them;
//   - it is Detached when none is both.
//
// Every host's backends are the route's Services: its hostnames apply to
// all of its rules.
func JoinRoute(r *Route, gateway func(namespace, name string) *Gateway) source.Ingress {
	out := source.Ingress{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Created: r.Created, Annotations: r.Annotations, Detached: true}
	var hs []string
	add := func(h hosts.Host) {
		if !slices.Contains(hs, h.Name) {
			hs = append(hs, h.Name)
		}
	}
	found := false
	for _, p := range r.Parents {
		g := gateway(p.Namespace, p.Name)
		if g == nil {
			continue
		}
		found = true
		for i := range g.Listeners {
			l := &g.Listeners[i]
			if p.Section != "" && l.Name != p.Section {
				continue
			}
			for _, h := range hosts.Effective(l.Hostname, r.Hostnames) {
				add(h)
			}
		}
		if g.Programmed {
			out.Detached = false
			for _, a := range g.Addresses {
				if !slices.Contains(out.Addresses, a) {
					out.Addresses = append(out.Addresses, a)
				}
			}
			for _, h := range g.Hostnames {
				if !slices.Contains(out.Hostnames, h) {
					out.Hostnames = append(out.Hostnames, h)
				}
			}
		}
	}
	if !found {
		for _, h := range r.Hostnames {
			add(h)
		}
	}
	for _, h := range hs {
		out.Rules = append(out.Rules, source.Rule{Host: h, Services: r.Services})
	}
	return out
}

// Package kubeobj converts Kubernetes API objects into package source's
// small structs. The kube watcher (at the informer) and the manifest source
// (on each file) both use it, so objects convert through the same code
// whichever way they arrive, and no package that reads the structs needs
// the Kubernetes API.
package kubeobj

import (
	"fmt"
	"net/netip"
	"strings"
	"unique"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/meridian-dns/meridian/internal/dnsname"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// FromNode converts a Kubernetes Node. Region and Zone come from the
// topology.kubernetes.io labels; Ready is true when the NodeReady condition
// is True. It never fails: a Node without labels still counts as a Node.
func FromNode(n *corev1.Node) source.Node {
	out := source.Node{
		Name:   n.Name,
		Region: Intern(n.Labels[corev1.LabelTopologyRegion]),
		Zone:   Intern(n.Labels[corev1.LabelTopologyZone]),
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return out
}

// FromService converts a Kubernetes Service. It returns an error wrapping
// source.ErrInvalid when the Service has no name or no ports, or when a
// load-balancer ingress IP, ingress hostname, cluster IP or port cannot be
// used. A port without a protocol is TCP, as the API server defaults it.
// It keeps the annotations policy.Parse reads: every key under
// policy.Prefix, unknown ones too, so that Parse can report them.
func FromService(s *corev1.Service) (source.Service, error) {
	out := source.Service{Namespace: Intern(s.Namespace), Name: s.Name}
	if s.Name == "" {
		return source.Service{}, fmt.Errorf("service in namespace %q: no name: %w", s.Namespace, source.ErrInvalid)
	}
	wrap := func(err error) error {
		return fmt.Errorf("service %s/%s: %w", s.Namespace, s.Name, err)
	}
	var err error
	if out.Addresses, out.Hostnames, err = ingress(s.Status.LoadBalancer.Ingress); err != nil {
		return source.Service{}, wrap(err)
	}
	if out.ClusterIPs, err = clusterIPs(&s.Spec); err != nil {
		return source.Service{}, wrap(err)
	}
	if out.Ports, err = ports(s.Spec.Ports); err != nil {
		return source.Service{}, wrap(err)
	}
	out.Annotations = owned(s.Annotations)
	return out, nil
}

// owned returns the annotations policy.Parse reads: every key under
// policy.Prefix, unknown ones too, so that Parse can report them; nil when
// there are none.
func owned(annotations map[string]string) map[string]string {
	var out map[string]string
	for k, v := range annotations {
		if policy.Owns(k) {
			if out == nil {
				out = make(map[string]string)
			}
			out[k] = v
		}
	}
	return out
}

// ingress splits load-balancer ingress points into IPs and hostnames. An
// entry may carry both; each is kept. IPv4-mapped IPv6 addresses are
// unmapped, so they are answered as A records.
func ingress(in []corev1.LoadBalancerIngress) ([]netip.Addr, []string, error) {
	var addrs []netip.Addr
	var hosts []string
	for i, ing := range in {
		if ing.IP != "" {
			a, err := netip.ParseAddr(ing.IP)
			if err != nil || a.Zone() != "" {
				return nil, nil, fmt.Errorf("status.loadBalancer.ingress[%d].ip %q is not an IP address: %w", i, ing.IP, source.ErrInvalid)
			}
			addrs = append(addrs, a.Unmap())
		}
		if ing.Hostname != "" {
			h, err := dnsname.CheckHost(ing.Hostname)
			if err != nil {
				return nil, nil, fmt.Errorf("status.loadBalancer.ingress[%d].hostname %q: %v: %w", i, ing.Hostname, err, source.ErrInvalid)
			}
			hosts = append(hosts, h)
		}
	}
	return addrs, hosts, nil
}

// clusterIPs parses spec.clusterIPs, or spec.clusterIP when the list is
// empty (manifests written by hand often set only the latter). Headless
// ("None") and unallocated ("") values are skipped.
func clusterIPs(spec *corev1.ServiceSpec) ([]netip.Addr, error) {
	field, ips := "spec.clusterIPs", spec.ClusterIPs
	if len(ips) == 0 {
		field, ips = "spec.clusterIP", []string{spec.ClusterIP}
	}
	var out []netip.Addr
	for i, ip := range ips {
		if ip == "" || ip == corev1.ClusterIPNone {
			continue
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%s[%d] %q is not an IP address: %w", field, i, ip, source.ErrInvalid)
		}
		out = append(out, a.Unmap())
	}
	return out, nil
}

// ports converts spec.ports; at least one port is required.
func ports(in []corev1.ServicePort) ([]source.Port, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("spec.ports is empty: %w", source.ErrInvalid)
	}
	out := make([]source.Port, 0, len(in))
	for i, p := range in {
		if p.Port < 1 || p.Port > 65535 {
			return nil, fmt.Errorf("spec.ports[%d].port %d is out of range: %w", i, p.Port, source.ErrInvalid)
		}
		// The constants, not a lower-cased copy per port.
		var proto string
		switch strings.ToUpper(string(p.Protocol)) {
		case "", "TCP":
			proto = "tcp"
		case "UDP":
			proto = "udp"
		case "SCTP":
			proto = "sctp"
		default:
			return nil, fmt.Errorf("spec.ports[%d].protocol %q is unknown: %w", i, p.Protocol, source.ErrInvalid)
		}
		out = append(out, source.Port{Name: Intern(p.Name), Protocol: proto, Port: uint16(p.Port)})
	}
	return out, nil
}

// FromEndpointSlice converts a discovery.k8s.io/v1 EndpointSlice into its
// counts. It returns an error wrapping source.ErrInvalid when the slice has
// no name, no kubernetes.io/service-name label, an unknown address type, or an
// endpoint without addresses or with an address that does not match the
// address type (FQDN slices only need non-empty names). Terminating
// endpoints are checked but not counted; an endpoint whose ready condition
// is unset counts as ready, as Kubernetes defines it.
func FromEndpointSlice(e *discoveryv1.EndpointSlice) (source.EndpointSlice, error) {
	if e.Name == "" {
		return source.EndpointSlice{}, fmt.Errorf("endpointslice in namespace %q: no name: %w", e.Namespace, source.ErrInvalid)
	}
	out := source.EndpointSlice{Namespace: Intern(e.Namespace), Name: e.Name, Service: e.Labels[discoveryv1.LabelServiceName], AddressType: Intern(string(e.AddressType))}
	if out.Service == "" {
		return source.EndpointSlice{}, fmt.Errorf("endpointslice %s/%s: no %s label: %w", e.Namespace, e.Name, discoveryv1.LabelServiceName, source.ErrInvalid)
	}
	check, err := addressChecker(e.AddressType)
	if err != nil {
		return source.EndpointSlice{}, fmt.Errorf("endpointslice %s/%s: %w", e.Namespace, e.Name, err)
	}
	for i, ep := range e.Endpoints {
		if len(ep.Addresses) == 0 {
			return source.EndpointSlice{}, fmt.Errorf("endpointslice %s/%s: endpoints[%d] has no addresses: %w", e.Namespace, e.Name, i, source.ErrInvalid)
		}
		for j, a := range ep.Addresses {
			if !check(a) {
				return source.EndpointSlice{}, fmt.Errorf("endpointslice %s/%s: endpoints[%d].addresses[%d] %q is not a valid %s address: %w",
					e.Namespace, e.Name, i, j, a, e.AddressType, source.ErrInvalid)
			}
		}
		if isTrue(ep.Conditions.Terminating, false) {
			continue
		}
		out.Total++
		if isTrue(ep.Conditions.Ready, true) {
			out.Ready++
		}
	}
	return out, nil
}

// addressChecker returns the function that validates one endpoint address
// of type t.
func addressChecker(t discoveryv1.AddressType) (func(string) bool, error) {
	switch t {
	case discoveryv1.AddressTypeIPv4:
		return func(s string) bool {
			a, err := netip.ParseAddr(s)
			return err == nil && a.Is4()
		}, nil
	case discoveryv1.AddressTypeIPv6:
		return func(s string) bool {
			a, err := netip.ParseAddr(s)
			return err == nil && a.Is6() && a.Zone() == ""
		}, nil
	case discoveryv1.AddressTypeFQDN:
		return func(s string) bool { return s != "" }, nil
	}
	return nil, fmt.Errorf("addressType %q is not IPv4, IPv6 or FQDN: %w", t, source.ErrInvalid)
}

// isTrue reads an optional condition, returning def when it is unset.
func isTrue(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// Intern returns the one copy of s that every converted object shares:
// namespaces, regions, zones, port names and address types repeat across
// hundreds of thousands of objects, each decoded into its own string.
// Strings no object holds any more are freed (package unique).
func Intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

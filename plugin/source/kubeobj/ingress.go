package kubeobj

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/meridian-dns/meridian/internal/dnsname"
	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/source"
)

// FromIngress converts a networking.k8s.io/v1 Ingress. Each rule with a
// host becomes a source.Rule with the Services its paths send to (rules
// of one host are merged); a rule without a host routes every host and
// names none, and the default backend serves requests no rule matches, so
// neither names a host to answer. Backends that are not Services (a
// Resource) are left out: they have no endpoints to judge. It returns an
// error wrapping source.ErrInvalid when the Ingress has no name, a host
// is not a host name (hosts.Parse), a backend Service name is not a DNS
// label, or a load-balancer ingress point cannot be used.
func FromIngress(in *networkingv1.Ingress) (source.Ingress, error) {
	if in.Name == "" {
		return source.Ingress{}, fmt.Errorf("ingress in namespace %q: no name: %w", in.Namespace, source.ErrInvalid)
	}
	wrap := func(err error) error {
		return fmt.Errorf("ingress %s/%s: %w", in.Namespace, in.Name, err)
	}
	out := source.Ingress{Kind: source.KindIngress, Namespace: Intern(in.Namespace), Name: in.Name, Created: in.CreationTimestamp.Time}
	var err error
	// An Ingress's load-balancer status has a type of its own, with the
	// fields of a Service's.
	points := make([]corev1.LoadBalancerIngress, len(in.Status.LoadBalancer.Ingress))
	for i, p := range in.Status.LoadBalancer.Ingress {
		points[i] = corev1.LoadBalancerIngress{IP: p.IP, Hostname: p.Hostname}
	}
	if out.Addresses, out.Hostnames, err = ingress(points); err != nil {
		return source.Ingress{}, wrap(err)
	}
	for i, r := range in.Spec.Rules {
		if r.Host == "" {
			continue
		}
		h, err := hosts.Parse(r.Host)
		if err != nil {
			return source.Ingress{}, wrap(fmt.Errorf("spec.rules[%d].host: %v: %w", i, err, source.ErrInvalid))
		}
		j := slices.IndexFunc(out.Rules, func(x source.Rule) bool { return x.Host == h.Name })
		if j < 0 {
			out.Rules = append(out.Rules, source.Rule{Host: h.Name})
			j = len(out.Rules) - 1
		}
		if r.HTTP == nil {
			continue
		}
		for k, p := range r.HTTP.Paths {
			svc := p.Backend.Service
			if svc == nil {
				continue
			}
			if !dnsname.IsLabel(svc.Name) {
				return source.Ingress{}, wrap(fmt.Errorf("spec.rules[%d].http.paths[%d].backend.service.name %q is not a Service name: %w", i, k, svc.Name, source.ErrInvalid))
			}
			rule := &out.Rules[j]
			if at, found := slices.BinarySearch(rule.Services, svc.Name); !found {
				rule.Services = slices.Insert(rule.Services, at, svc.Name)
			}
		}
	}
	out.Annotations = owned(in.Annotations)
	return out, nil
}

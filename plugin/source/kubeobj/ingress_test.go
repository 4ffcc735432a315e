package kubeobj_test

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/kubeobj"
)

func TestFromIngress(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	paths := func(services ...string) *networkingv1.HTTPIngressRuleValue {
		v := &networkingv1.HTTPIngressRuleValue{}
		for _, s := range services {
			b := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: s, Port: networkingv1.ServiceBackendPort{Number: 80}}}
			if s == "" { // a Resource backend
				b = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "static"}}
			}
			v.Paths = append(v.Paths, networkingv1.HTTPIngressPath{Path: "/" + s, Backend: b})
		}
		return v
	}
	rule := func(host string, v *networkingv1.HTTPIngressRuleValue) networkingv1.IngressRule {
		return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: v}}
	}
	tests := []struct {
		name    string
		rules   []networkingv1.IngressRule
		status  []networkingv1.IngressLoadBalancerIngress
		ann     map[string]string
		want    []source.Rule
		addrs   []netip.Addr
		hosts   []string
		invalid bool
	}{
		{name: "hosts with their Services, merged and sorted",
			rules: []networkingv1.IngressRule{rule("Shop.example.com", paths("web", "cart", "web")), rule("*.shop.example.com", paths("web")),
				rule("shop.example.com", paths("api"))},
			status: []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.7"}, {IP: "2001:db8::7"}, {Hostname: "lb.example.net"}},
			ann:    map[string]string{policy.AnnPolicy: "failover", "kubernetes.io/ingress.class": "nginx"},
			want:   []source.Rule{{Host: "shop.example.com.", Services: []string{"api", "cart", "web"}}, {Host: "*.shop.example.com.", Services: []string{"web"}}},
			addrs:  []netip.Addr{netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("2001:db8::7")},
			hosts:  []string{"lb.example.net."}},
		{name: "a rule without a host names none; a Resource backend is left out",
			rules: []networkingv1.IngressRule{rule("", paths("web")), rule("static.example.com", paths("")), rule("bare.example.com", nil)},
			want:  []source.Rule{{Host: "static.example.com."}, {Host: "bare.example.com."}}},
		{name: "no address yet", rules: []networkingv1.IngressRule{rule("a.example.com", paths("web"))},
			want: []source.Rule{{Host: "a.example.com.", Services: []string{"web"}}}},
		{name: "a host that is an IP address", rules: []networkingv1.IngressRule{rule("192.0.2.1", paths("web"))}, invalid: true},
		{name: "a wildcard inside a host", rules: []networkingv1.IngressRule{rule("a.*.example.com", paths("web"))}, invalid: true},
		{name: "a backend that is not a Service name", rules: []networkingv1.IngressRule{rule("a.example.com", paths("Web_1"))}, invalid: true},
		{name: "a bad load-balancer IP", status: []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113"}}, invalid: true},
	}
	for _, tc := range tests {
		in := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", CreationTimestamp: metav1.NewTime(created), Annotations: tc.ann},
			Spec:       networkingv1.IngressSpec{Rules: tc.rules},
			Status:     networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: tc.status}},
		}
		got, err := kubeobj.FromIngress(in)
		if tc.invalid {
			if !errors.Is(err, source.ErrInvalid) {
				t.Errorf("%s: error %v, want one wrapping ErrInvalid", tc.name, err)
			}
			continue
		}
		want := source.Ingress{Kind: source.KindIngress, Namespace: "shop", Name: "web", Created: created, Rules: tc.want, Addresses: tc.addrs, Hostnames: tc.hosts}
		if tc.ann != nil {
			want.Annotations = map[string]string{policy.AnnPolicy: "failover"}
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", tc.name, got, err, want)
		}
	}
	if _, err := kubeobj.FromIngress(&networkingv1.Ingress{}); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("an Ingress without a name: %v, want ErrInvalid", err)
	}
}

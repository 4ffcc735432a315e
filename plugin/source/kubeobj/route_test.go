package kubeobj

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/source"
)

func mustHost(t *testing.T, s string) hosts.Host {
	t.Helper()
	h, err := hosts.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestJoinRoute checks a route's hosts, addresses and attachment as its
// Gateways give them.
func TestJoinRoute(t *testing.T) {
	h := func(s string) hosts.Host { return mustHost(t, s) }
	hp := func(s string) *hosts.Host { x := h(s); return &x }
	ip := netip.MustParseAddr("192.0.2.1")
	gws := map[string]*Gateway{
		"shop/any":  {Namespace: "shop", Name: "any", Programmed: true, Addresses: []netip.Addr{ip}, Listeners: []Listener{{Name: "http"}}},
		"shop/wild": {Namespace: "shop", Name: "wild", Programmed: true, Addresses: []netip.Addr{ip}, Listeners: []Listener{{Name: "http", Hostname: hp("*.example.com")}}},
		"shop/api":  {Namespace: "shop", Name: "api", Programmed: true, Hostnames: []string{"gw.lb.example.net."}, Listeners: []Listener{{Name: "http", Hostname: hp("api.example.com")}}},
		"shop/two": {Namespace: "shop", Name: "two", Programmed: true, Addresses: []netip.Addr{ip},
			Listeners: []Listener{{Name: "a", Hostname: hp("a.example.com")}, {Name: "b", Hostname: hp("b.example.com")}}},
		"shop/off": {Namespace: "shop", Name: "off", Addresses: []netip.Addr{ip}, Listeners: []Listener{{Name: "http"}}},
		"infra/gw": {Namespace: "infra", Name: "gw", Programmed: true, Addresses: []netip.Addr{ip}, Listeners: []Listener{{Name: "http"}}},
	}
	find := func(ns, name string) *Gateway { return gws[ns+"/"+name] }
	for _, tc := range []struct {
		name      string
		hostnames []hosts.Host
		parents   []Parent
		hosts     []string
		detached  bool
		addrs     int
		hostname  string
	}{
		{name: "attached", hostnames: []hosts.Host{h("shop.example.com")}, parents: []Parent{{"shop", "any", ""}}, hosts: []string{"shop.example.com."}, addrs: 1},
		{name: "a listener narrows", hostnames: []hosts.Host{h("shop.example.com"), h("shop.example.org"), h("*.a.example.com")},
			parents: []Parent{{"shop", "wild", ""}}, hosts: []string{"shop.example.com.", "*.a.example.com."}, addrs: 1},
		{name: "a route with no hostnames takes the listener's", parents: []Parent{{"shop", "api", ""}}, hosts: []string{"api.example.com."}, hostname: "gw.lb.example.net."},
		{name: "both name none: no host", parents: []Parent{{"shop", "any", ""}}, addrs: 1},
		{name: "the section names one listener", hostnames: []hosts.Host{h("*.example.com")}, parents: []Parent{{"shop", "two", "b"}}, hosts: []string{"b.example.com."}, addrs: 1},
		{name: "every listener", hostnames: []hosts.Host{h("*.example.com")}, parents: []Parent{{"shop", "two", ""}}, hosts: []string{"a.example.com.", "b.example.com."}, addrs: 1},
		{name: "not accepted: its claim stands, detached", hostnames: []hosts.Host{h("shop.example.com")}, hosts: []string{"shop.example.com."}, detached: true},
		{name: "Gateway not found", hostnames: []hosts.Host{h("shop.example.com")}, parents: []Parent{{"shop", "gone", ""}}, hosts: []string{"shop.example.com."}, detached: true},
		{name: "Gateway not programmed", hostnames: []hosts.Host{h("shop.example.com")}, parents: []Parent{{"shop", "off", ""}}, hosts: []string{"shop.example.com."}, detached: true},
		{name: "a Gateway of another namespace", hostnames: []hosts.Host{h("shop.example.com")}, parents: []Parent{{"infra", "gw", ""}}, hosts: []string{"shop.example.com."}, addrs: 1},
		{name: "two Gateways, one programmed", hostnames: []hosts.Host{h("shop.example.com")}, parents: []Parent{{"shop", "off", ""}, {"shop", "any", ""}},
			hosts: []string{"shop.example.com."}, addrs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Route{Kind: source.KindHTTPRoute, Namespace: "shop", Name: "web", Hostnames: tc.hostnames, Parents: tc.parents, Services: []string{"web"}}
			got := JoinRoute(r, find)
			var hs []string
			for _, rule := range got.Rules {
				hs = append(hs, rule.Host)
				if !slices.Equal(rule.Services, []string{"web"}) {
					t.Errorf("%s: backends %v", rule.Host, rule.Services)
				}
			}
			if !slices.Equal(hs, tc.hosts) || got.Detached != tc.detached || len(got.Addresses) != tc.addrs || fmt.Sprint(got.Hostnames) != fmt.Sprint(sliceOf(tc.hostname)) {
				t.Errorf("hosts %q detached %v addresses %v hostnames %v; want %q %v %d %q", hs, got.Detached, got.Addresses, got.Hostnames, tc.hosts, tc.detached, tc.addrs, tc.hostname)
			}
			if got.Kind != source.KindHTTPRoute || got.Namespace != "shop" || got.Name != "web" {
				t.Errorf("identity %s %s/%s", got.Kind, got.Namespace, got.Name)
			}
		})
	}
}

func sliceOf(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TestFromHTTPRoute checks what a route's status and backends give.
func TestFromHTTPRoute(t *testing.T) {
	ns := gatewayv1.Namespace("infra")
	other := gatewayv1.Namespace("other")
	section := gatewayv1.SectionName("https")
	svcKind, bucket := gatewayv1.Kind("Service"), gatewayv1.Kind("Bucket")
	accepted := []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue}}
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Annotations: map[string]string{"meridian.dev/backends": "any", "x": "y"}}}
	r.Spec.Hostnames = []gatewayv1.Hostname{"Shop.Example.com", "*.shop.example.com"}
	r.Spec.Rules = []gatewayv1.HTTPRouteRule{
		{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web"}}},
			{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "cart", Kind: &svcKind}}}}},
		{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web"}}},
			{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "far", Namespace: &other}}},
			{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "b", Kind: &bucket}}}}},
	}
	r.Status.Parents = []gatewayv1.RouteParentStatus{
		{ParentRef: gatewayv1.ParentReference{Name: "gw", Namespace: &ns, SectionName: &section}, ControllerName: "a", Conditions: accepted},
		{ParentRef: gatewayv1.ParentReference{Name: "gw", Namespace: &ns, SectionName: &section}, ControllerName: "b", Conditions: accepted},
		{ParentRef: gatewayv1.ParentReference{Name: "refused"}, Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse}}},
	}
	got, err := FromHTTPRoute(r)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Hostnames) != "[{shop.example.com. false} {*.shop.example.com. true}]" || !slices.Equal(got.Services, []string{"cart", "web"}) ||
		!slices.Equal(got.Parents, []Parent{{"infra", "gw", "https"}}) || len(got.Annotations) != 1 || got.Kind != source.KindHTTPRoute {
		t.Errorf("got %+v", got)
	}
	r.Spec.Hostnames = append(r.Spec.Hostnames, "a..b")
	if _, err := FromHTTPRoute(r); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("bad hostname: %v, want ErrInvalid", err)
	}
}

// TestFromGateway checks a Gateway's listeners, addresses and Programmed
// condition.
func TestFromGateway(t *testing.T) {
	ipType, hostType, named := gatewayv1.IPAddressType, gatewayv1.HostnameAddressType, gatewayv1.AddressType("NamedAddress")
	hn := gatewayv1.Hostname("*.example.com")
	g := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "gw"}}
	g.Spec.Listeners = []gatewayv1.Listener{{Name: "http"}, {Name: "https", Hostname: &hn}}
	g.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "192.0.2.1"}, {Type: &ipType, Value: "2001:db8::1"},
		{Type: &hostType, Value: "gw.lb.example.net"}, {Type: &named, Value: "pool-a"}}
	g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue}}
	got, err := FromGateway(g)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Programmed || fmt.Sprint(got.Addresses) != "[192.0.2.1 2001:db8::1]" || fmt.Sprint(got.Hostnames) != "[gw.lb.example.net.]" ||
		len(got.Listeners) != 2 || got.Listeners[0].Hostname != nil || got.Listeners[1].Hostname.Name != "*.example.com." {
		t.Errorf("got %+v", got)
	}
	g.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "not an ip"}}
	if _, err := FromGateway(g); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("bad address: %v, want ErrInvalid", err)
	}
}

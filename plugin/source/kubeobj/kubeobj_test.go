package kubeobj_test

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/kubeobj"
)

func TestFromNode(t *testing.T) {
	labels := map[string]string{
		corev1.LabelTopologyRegion: "europe-west1",
		corev1.LabelTopologyZone:   "europe-west1-b",
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s}
	}
	tests := []struct {
		name   string
		labels map[string]string
		conds  []corev1.NodeCondition
		want   source.Node
	}{
		{"ready with topology", labels, []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)},
			source.Node{Name: "n", Region: "europe-west1", Zone: "europe-west1-b", Ready: true}},
		{"not ready", labels, []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)},
			source.Node{Name: "n", Region: "europe-west1", Zone: "europe-west1-b"}},
		{"ready unknown", nil, []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionUnknown)},
			source.Node{Name: "n"}},
		{"no conditions", nil, nil, source.Node{Name: "n"}},
		{"other conditions only", nil, []corev1.NodeCondition{cond(corev1.NodeMemoryPressure, corev1.ConditionTrue)},
			source.Node{Name: "n"}},
		{"ready among others", nil, []corev1.NodeCondition{
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse), cond(corev1.NodeReady, corev1.ConditionTrue)},
			source.Node{Name: "n", Ready: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: tc.labels},
				Status:     corev1.NodeStatus{Conditions: tc.conds},
			}
			if got := kubeobj.FromNode(n); got != tc.want {
				t.Errorf("FromNode = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// svc returns a valid Service; tests change one thing in it.
func svc(mod func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nginx"},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
		},
	}
	if mod != nil {
		mod(s)
	}
	return s
}

func lb(ing ...corev1.LoadBalancerIngress) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Status.LoadBalancer.Ingress = ing }
}

func TestFromService(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	httpPort := []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}
	tests := []struct {
		name    string
		mod     func(*corev1.Service)
		want    source.Service // checked when wantErr is ""
		wantErr string         // a substring of the error, which must wrap ErrInvalid
	}{
		{name: "minimal", want: source.Service{Namespace: "default", Name: "nginx", Ports: httpPort}},
		{name: "ingress IPs in order, v4 and v6",
			mod:  lb(corev1.LoadBalancerIngress{IP: "2001:db8::1"}, corev1.LoadBalancerIngress{IP: "192.0.2.1"}),
			want: source.Service{Namespace: "default", Name: "nginx", Addresses: addrs("2001:db8::1", "192.0.2.1"), Ports: httpPort}},
		{name: "ingress IPv4-mapped IPv6 is unmapped",
			mod:  lb(corev1.LoadBalancerIngress{IP: "::ffff:192.0.2.1"}),
			want: source.Service{Namespace: "default", Name: "nginx", Addresses: addrs("192.0.2.1"), Ports: httpPort}},
		{name: "bad ingress IP", mod: lb(corev1.LoadBalancerIngress{IP: "192.0.2.300"}),
			wantErr: `service default/nginx: status.loadBalancer.ingress[0].ip "192.0.2.300"`},
		{name: "ingress hostname lower-cased and dotted",
			mod:  lb(corev1.LoadBalancerIngress{Hostname: "Web-1.LB.example.net"}, corev1.LoadBalancerIngress{Hostname: "b.example.net."}),
			want: source.Service{Namespace: "default", Name: "nginx", Hostnames: []string{"web-1.lb.example.net.", "b.example.net."}, Ports: httpPort}},
		{name: "ingress with IP and hostname keeps both",
			mod: lb(corev1.LoadBalancerIngress{IP: "192.0.2.1", Hostname: "a.example.net"}),
			want: source.Service{Namespace: "default", Name: "nginx", Addresses: addrs("192.0.2.1"),
				Hostnames: []string{"a.example.net."}, Ports: httpPort}},
		{name: "hostname with space", mod: lb(corev1.LoadBalancerIngress{Hostname: "a b.example.net"}),
			wantErr: `ingress[0].hostname "a b.example.net"`},
		{name: "hostname empty label", mod: lb(corev1.LoadBalancerIngress{Hostname: "a..example.net"}),
			wantErr: `ingress[0].hostname`},
		{name: "hostname leading hyphen", mod: lb(corev1.LoadBalancerIngress{Hostname: "-a.example.net"}),
			wantErr: `starts or ends with a hyphen`},
		{name: "hostname label too long", mod: lb(corev1.LoadBalancerIngress{Hostname: strings.Repeat("a", 64) + ".net"}),
			wantErr: `not 1 to 63 octets`},
		{name: "hostname too long", mod: lb(corev1.LoadBalancerIngress{Hostname: strings.Repeat("abcdefg.", 32) + "net"}),
			wantErr: `not between 1 and 253`},
		{name: "hostname that is an IP", mod: lb(corev1.LoadBalancerIngress{Hostname: "192.0.2.1"}),
			wantErr: `is an IP address`},
		{name: "cluster IPs, None skipped",
			mod:  func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.10", "", "fd00::10", "None"} },
			want: source.Service{Namespace: "default", Name: "nginx", ClusterIPs: addrs("10.96.0.10", "fd00::10"), Ports: httpPort}},
		{name: "clusterIP alone", mod: func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.11" },
			want: source.Service{Namespace: "default", Name: "nginx", ClusterIPs: addrs("10.96.0.11"), Ports: httpPort}},
		{name: "headless", mod: func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = []string{"None"} },
			want: source.Service{Namespace: "default", Name: "nginx", Ports: httpPort}},
		{name: "bad cluster IP", mod: func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.300"} },
			wantErr: `spec.clusterIPs[0] "10.96.0.300"`},
		{name: "ports lower-cased, unset protocol is tcp",
			mod: func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}, {Name: "dns", Protocol: "UDP", Port: 53},
					{Port: 8080}, {Name: "s", Protocol: "SCTP", Port: 9}}
			},
			want: source.Service{Namespace: "default", Name: "nginx", Ports: []source.Port{
				{Name: "http", Protocol: "tcp", Port: 80}, {Name: "dns", Protocol: "udp", Port: 53},
				{Protocol: "tcp", Port: 8080}, {Name: "s", Protocol: "sctp", Port: 9}}}},
		{name: "no ports", mod: func(s *corev1.Service) { s.Spec.Ports = nil }, wantErr: "spec.ports is empty"},
		{name: "port out of range", mod: func(s *corev1.Service) { s.Spec.Ports[0].Port = 70000 }, wantErr: "spec.ports[0].port 70000"},
		{name: "unknown protocol", mod: func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "QUIC" }, wantErr: `spec.ports[0].protocol "QUIC"`},
		{name: "no name", mod: func(s *corev1.Service) { s.Name = "" }, wantErr: `service in namespace "default": no name`},
		{name: "only the annotations policy.Parse reads, unknown ones too",
			mod: func(s *corev1.Service) {
				s.Annotations = map[string]string{"meridian.dev/policy": "failover", "meridian.dev/no-such-key": "x",
					"federation.meridian.dev/name": "f", "xmeridian.dev/policy": "weighted",
					"kubectl.kubernetes.io/last-applied-configuration": "{}", "meridian.dev": "no slash"}
			},
			want: source.Service{Namespace: "default", Name: "nginx", Ports: httpPort,
				Annotations: map[string]string{"meridian.dev/policy": "failover", "meridian.dev/no-such-key": "x"}}},
		{name: "no meridian annotations gives nil map",
			mod:  func(s *corev1.Service) { s.Annotations = map[string]string{"a": "b"} },
			want: source.Service{Namespace: "default", Name: "nginx", Ports: httpPort}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kubeobj.FromService(svc(tc.mod))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FromService =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// checkErr fails t unless err matches want: nil for "", else an error
// wrapping source.ErrInvalid whose text holds want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want == "":
	case err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case !errors.Is(err, source.ErrInvalid):
		t.Errorf("error %q does not wrap ErrInvalid", err)
	case !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestFromEndpointSlice(t *testing.T) {
	yes, no := true, false
	ep := func(ready, terminating *bool, addrs ...string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: addrs, Conditions: discoveryv1.EndpointConditions{Ready: ready, Terminating: terminating}}
	}
	tests := []struct {
		name      string
		addrType  discoveryv1.AddressType
		noLabel   bool
		endpoints []discoveryv1.Endpoint
		ready     int
		total     int
		wantErr   string
	}{
		{name: "empty", addrType: discoveryv1.AddressTypeIPv4},
		{name: "ready true, false and unset", addrType: discoveryv1.AddressTypeIPv4,
			endpoints: []discoveryv1.Endpoint{ep(&yes, nil, "10.0.0.1"), ep(&no, nil, "10.0.0.2"), ep(nil, nil, "10.0.0.3")},
			ready:     2, total: 3},
		{name: "terminating excluded from both counts", addrType: discoveryv1.AddressTypeIPv4,
			endpoints: []discoveryv1.Endpoint{ep(&yes, &yes, "10.0.0.1"), ep(&no, &yes, "10.0.0.2"), ep(&yes, &no, "10.0.0.3")},
			ready:     1, total: 1},
		{name: "IPv6", addrType: discoveryv1.AddressTypeIPv6,
			endpoints: []discoveryv1.Endpoint{ep(nil, nil, "fd00::1", "fd00::2")}, ready: 1, total: 1},
		{name: "FQDN", addrType: discoveryv1.AddressTypeFQDN,
			endpoints: []discoveryv1.Endpoint{ep(&yes, nil, "a.example.net"), ep(&no, nil, "b.example.net")}, ready: 1, total: 2},
		{name: "IPv6 address in IPv4 slice", addrType: discoveryv1.AddressTypeIPv4,
			endpoints: []discoveryv1.Endpoint{ep(nil, nil, "10.0.0.1"), ep(nil, nil, "fd00::1")},
			wantErr:   `endpointslice default/nginx-abc: endpoints[1].addresses[0] "fd00::1" is not a valid IPv4 address`},
		{name: "IPv4 address in IPv6 slice", addrType: discoveryv1.AddressTypeIPv6,
			endpoints: []discoveryv1.Endpoint{ep(nil, nil, "10.0.0.1")}, wantErr: `"10.0.0.1" is not a valid IPv6`},
		{name: "unparsable address", addrType: discoveryv1.AddressTypeIPv4,
			endpoints: []discoveryv1.Endpoint{ep(nil, nil, "10.0.0.1", "pod-1")}, wantErr: `endpoints[0].addresses[1] "pod-1"`},
		{name: "bad address in terminating endpoint", addrType: discoveryv1.AddressTypeIPv4,
			endpoints: []discoveryv1.Endpoint{ep(nil, &yes, "x")}, wantErr: `endpoints[0].addresses[0] "x"`},
		{name: "empty FQDN", addrType: discoveryv1.AddressTypeFQDN,
			endpoints: []discoveryv1.Endpoint{ep(nil, nil, "")}, wantErr: `is not a valid FQDN address`},
		{name: "no addresses", addrType: discoveryv1.AddressTypeIPv4,
			endpoints: []discoveryv1.Endpoint{ep(nil, nil)}, wantErr: `endpoints[0] has no addresses`},
		{name: "unknown address type", addrType: "IPX", wantErr: `addressType "IPX"`},
		{name: "no service label", addrType: discoveryv1.AddressTypeIPv4, noLabel: true,
			wantErr: `endpointslice default/nginx-abc: no kubernetes.io/service-name label`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &discoveryv1.EndpointSlice{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nginx-abc",
					Labels: map[string]string{discoveryv1.LabelServiceName: "nginx"}},
				AddressType: tc.addrType,
				Endpoints:   tc.endpoints,
			}
			if tc.noLabel {
				e.Labels = nil
			}
			got, err := kubeobj.FromEndpointSlice(e)
			checkErr(t, err, tc.wantErr)
			want := source.EndpointSlice{Namespace: "default", Name: "nginx-abc", Service: "nginx", AddressType: string(tc.addrType), Ready: tc.ready, Total: tc.total}
			if tc.wantErr == "" && got != want {
				t.Errorf("FromEndpointSlice = %+v, want %+v", got, want)
			}
		})
	}
}

func TestFromEndpointSliceNoName(t *testing.T) {
	_, err := kubeobj.FromEndpointSlice(&discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4})
	checkErr(t, err, "no name")
}

// TestFromServiceKeepsWhatParseReads checks that the annotations FromService
// keeps are the ones policy.Parse reads: parsing them gives the policy and
// the problems that parsing all of the Service's annotations gives.
func TestFromServiceKeepsWhatParseReads(t *testing.T) {
	ann := map[string]string{
		policy.AnnPolicy: "failover", policy.AnnFailover: "b, a", policy.AnnShards: "x",
		policy.Prefix + "no-such-key": "1", "federation.meridian.dev/name": "f", "federation.meridian.dev/policy": "weighted",
		"xmeridian.dev/shards": "2", "meridian.dev": "y", "kubectl.kubernetes.io/last-applied-configuration": "{}",
	}
	got, err := kubeobj.FromService(svc(func(s *corev1.Service) { s.Annotations = ann }))
	if err != nil {
		t.Fatal(err)
	}
	wantPol, wantProbs := policy.Parse(ann, policy.Default())
	pol, probs := policy.Parse(got.Annotations, policy.Default())
	if !reflect.DeepEqual(pol, wantPol) || fmt.Sprint(probs) != fmt.Sprint(wantProbs) {
		t.Errorf("Parse of the kept annotations = %+v, %v\nwant %+v, %v", pol, probs, wantPol, wantProbs)
	}
	if len(probs) != 2 || !errors.Is(probs[0].Err, policy.ErrUnknown) {
		t.Errorf("problems %v, want the unknown key and the bad shards value", probs)
	}
}

// TestInternShares checks that converted objects of one namespace share
// one copy of its name, and of their port names and protocol.
func TestInternShares(t *testing.T) {
	mk := func(name string) *corev1.Service {
		// Each string is built at run time, as a decoder makes them.
		ns, port := string([]byte("shop")), string([]byte("http"))
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: port, Port: 80, Protocol: corev1.ProtocolTCP}}}}
	}
	a, errA := kubeobj.FromService(mk("a"))
	b, errB := kubeobj.FromService(mk("b"))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(a.Namespace, b.Namespace) || !same(a.Ports[0].Name, b.Ports[0].Name) || !same(a.Ports[0].Protocol, b.Ports[0].Protocol) {
		t.Error("two Services of one namespace hold separate copies of its name, port name or protocol")
	}
}

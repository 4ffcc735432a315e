package kube

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const fedLabel = "federation.meridian.dev/name"

// member is what a test puts into one member cluster.
type member struct {
	name, region, zone string
	lb                 string // nginx load-balancer IP
}

// addNode creates a Ready Node with topology labels, as a kubelet would.
func addNode(t testing.TB, c kubernetes.Interface, m member) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{
		corev1.LabelTopologyRegion: m.region, corev1.LabelTopologyZone: m.zone}}}
	n, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: node: %v", m.name, err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s: node status: %v", m.name, err)
	}
}

// addService creates a LoadBalancer Service with its load-balancer status
// (as a cloud controller would) and, when ready >= 0, its EndpointSlice
// (as the EndpointSlice controller would) with ready of 3 endpoints ready.
func addService(t testing.TB, c kubernetes.Interface, m member, name string, labels map[string]string, ready int) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	s, err := c.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: service %s: %v", m.name, name, err)
	}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: m.lb}}
	if _, err := c.CoreV1().Services("default").UpdateStatus(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s: service %s status: %v", m.name, name, err)
	}
	if ready >= 0 {
		if _, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx, slice(name, ready), metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: endpointslice %s: %v", m.name, name, err)
		}
	}
}

// slice is the EndpointSlice of service with ready of 3 endpoints ready.
func slice(service string, ready int) *discoveryv1.EndpointSlice {
	e := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: service + "-1", Namespace: "default", Labels: map[string]string{
			discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: "test.meridian.dev"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}},
	}
	for i := range 3 {
		r := i < ready
		e.Endpoints = append(e.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.0.0.%d", i+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: &r},
		})
	}
	return e
}

// setReady changes how many endpoints of service are ready.
func setReady(t testing.TB, c kubernetes.Interface, service string, ready int) {
	t.Helper()
	ctx := context.Background()
	e, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, service+"-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Endpoints = slice(service, ready).Endpoints
	if _, err := c.DiscoveryV1().EndpointSlices("default").Update(ctx, e, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// annotate replaces the annotations of a Service in the default namespace.
func annotate(t testing.TB, c kubernetes.Interface, service string, ann map[string]string) {
	t.Helper()
	ctx := context.Background()
	s, err := c.CoreV1().Services("default").Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Annotations = ann
	if _, err := c.CoreV1().Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Package sourcetest makes source objects for tests and benchmarks of the
// packages that read them.
package sourcetest

import (
	"net/netip"
	"strconv"

	"github.com/meridian-dns/meridian/plugin/source"
)

// Cluster returns the objects of member cluster c (0-255) of a federation
// of n services: one ready Node in europe-west1, and svc-0 ... svc-(n-1)
// in namespace default, each with one IPv4 load-balancer address, an http
// port and one EndpointSlice of three ready endpoints.
func Cluster(c, n int) source.Objects {
	var o source.Objects
	o.Nodes = []*source.Node{{Name: "n", Region: "europe-west1", Zone: "europe-west1-b", Ready: true}}
	for i := range n {
		name := "svc-" + strconv.Itoa(i)
		o.Services = append(o.Services, &source.Service{Namespace: "default", Name: name,
			Addresses: []netip.Addr{netip.AddrFrom4([4]byte{198, 18, byte(c), byte(i)})}, Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}})
		o.Endpoints = append(o.Endpoints, &source.EndpointSlice{Namespace: "default", Name: name + "-1", Service: name, AddressType: "IPv4", Ready: 3, Total: 3})
	}
	return o
}

// Ingresses returns the Ingresses of member cluster c (0-255) of a
// federation with the services of Cluster(c, services): host-0 ... host-(n-1)
// in namespace default, host-i.example.com routed to svc-i and the next
// service, each with one IPv4 load-balancer address.
func Ingresses(c, n, services int) []*source.Ingress {
	out := make([]*source.Ingress, n)
	for i := range n {
		a, b := "svc-"+strconv.Itoa(i%services), "svc-"+strconv.Itoa((i+1)%services)
		if a > b {
			a, b = b, a
		}
		out[i] = &source.Ingress{Kind: source.KindIngress, Namespace: "default", Name: "host-" + strconv.Itoa(i),
			Rules:     []source.Rule{{Host: "host-" + strconv.Itoa(i) + ".example.com.", Services: []string{a, b}}},
			Addresses: []netip.Addr{netip.AddrFrom4([4]byte{198, 19, byte(c), byte(i)})}}
	}
	return out
}

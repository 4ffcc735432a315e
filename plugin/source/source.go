// Package source defines how member-cluster objects reach Meridian: the small
// internal structs a source converts Kubernetes objects into (package
// kubeobj converts them, so this package needs no Kubernetes API), the Sink
// that receives them, and the Source interface every source (the manifest
// folder, Kubernetes API servers) implements.
//
// The rule for the structs, taken from CoreDNS's plugin/kubernetes/object:
// a field is here only if an answer reads it.
package source

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/meridian-dns/meridian/health"
)

// Source feeds one or more member clusters into a Sink.
type Source interface {
	// Run feeds sink until ctx is done, then returns nil. It returns an error
	// only when it cannot start at all (for example a missing folder); errors
	// about single objects or files are reported through Sink.Error.
	Run(ctx context.Context, sink Sink) error
}

// Sink receives what sources observe. Implementations must be safe for use by
// several goroutines at once; calls for one cluster come from one goroutine.
type Sink interface {
	// Replace sets the complete object set of cluster, adding the cluster if
	// it is new. A source calls it after a full (re)list.
	Replace(cluster string, objs Objects)
	// Remove forgets cluster and everything in it.
	Remove(cluster string)
	// SetState reports the liveness of cluster as the source sees it.
	SetState(cluster string, st health.State)
	// Error reports a problem with one file or object; the object was
	// skipped (or, for a file, the last good state of its cluster kept).
	Error(cluster string, err error)
}

// Objects is the set of objects of one cluster.
type Objects struct {
	Nodes     []Node
	Services  []Service
	Endpoints []EndpointSlice
	// Synced is when the source last saw these objects complete.
	Synced time.Time
	// Changed is the newest change time the source knows of for these
	// objects, taken from the objects themselves (Kubernetes metadata, file
	// modification times), never from the clock, so that every replica
	// reading the same objects gets the same time. Zero means none is known.
	// The SOA serial is derived from it.
	Changed time.Time
	// Fingerprint is a cheap hash of what the objects hold and of Changed:
	// it moves whenever either does, and stays put when a source sends the
	// same objects again (a resync). 0 means unknown: every Replace then
	// counts as a change.
	Fingerprint uint64
	// Ignored counts Services left out by the federation filter (label
	// selector, namespaces); Invalid counts objects skipped for bad data.
	Ignored int
	Invalid int
}

// Node is the part of a Kubernetes Node that places a cluster on the map.
type Node struct {
	Name   string
	Region string // topology.kubernetes.io/region, "" if unset
	Zone   string // topology.kubernetes.io/zone, "" if unset
	Ready  bool   // NodeReady condition is True
}

// Port is one port of a Service.
type Port struct {
	Name     string // "" for an unnamed port
	Protocol string // "tcp", "udp" or "sctp", lower case
	Port     uint16
}

// Service is the part of a Kubernetes Service that an answer reads.
type Service struct {
	Namespace string
	Name      string
	// Addresses are the load-balancer ingress IPs (IPv4 and IPv6), in the
	// order the Service status lists them.
	Addresses []netip.Addr
	// Hostnames are the load-balancer ingress hostnames, fully qualified
	// with a trailing dot.
	Hostnames []string
	// ClusterIPs are the Service's cluster IPs (used by the local resolver).
	ClusterIPs []netip.Addr
	Ports      []Port
	// Annotations holds only Meridian's annotations, the keys under
	// policy.Prefix (policy.Owns); nil when there are none.
	Annotations map[string]string
}

// EndpointSlice is the part of a discovery.k8s.io/v1 EndpointSlice that an
// answer reads: how many endpoints it has and how many are ready.
type EndpointSlice struct {
	Namespace string
	Name      string
	Service   string // the kubernetes.io/service-name label
	// AddressType is the slice's address family ("IPv4", "IPv6", "FQDN").
	// A dual-stack Service has slices of both families for the same pods,
	// so endpoints are counted per family, never summed across them.
	AddressType string
	Ready       int // endpoints whose ready condition is true or unset, not terminating
	Total       int // endpoints that are not terminating
}

// Errors reported through Sink.Error wrap one of these.
var (
	// ErrMalformed is a file or object that cannot be decoded at all.
	ErrMalformed = errors.New("malformed")
	// ErrInvalid is an object that decodes but holds data Meridian cannot use.
	ErrInvalid = errors.New("invalid object")
)

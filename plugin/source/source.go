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
	// HasSynced reports whether the source has sent every cluster it knew
	// of at start at least once (or given up waiting for one, reporting it
	// stale): until every source has, Meridian is not ready.
	HasSynced() bool
}

// Sink receives what sources observe. Implementations must be safe for use by
// several goroutines at once; calls for one cluster come from one goroutine.
type Sink interface {
	// Update says that the objects of cluster changed, adding the cluster
	// if it is new. The sink reads them with objs.Objects() when it next
	// gathers, once per burst of changes, from its own goroutine; until
	// then a later Update of the same cluster replaces this one.
	Update(cluster string, objs Lister)
	// Remove forgets cluster and everything in it.
	Remove(cluster string)
	// SetState reports the liveness of cluster as the source sees it.
	SetState(cluster string, st health.State)
	// Error reports a problem with one file or object; the object was
	// skipped (or, for a file, the last good state of its cluster kept).
	Error(cluster string, err error)
}

// Lister gives the complete object set of one cluster as it is now. It is
// called from the sink's goroutine, concurrently with the source.
type Lister interface {
	Objects() Objects
}

// Fixed is a Lister of objects read already.
type Fixed Objects

// Objects implements Lister.
func (f Fixed) Objects() Objects { return Objects(f) }

// Objects is the set of objects of one cluster. The structs are shared, not
// copied: a source hands out the ones it holds (the Kubernetes source, those
// of its informer caches), so they must never be changed once made, and a
// changed object is a new struct. The lists too are never changed once
// handed out: a snapshot build reuses what it made from a struct or a list
// while it is the same one (model.Build).
type Objects struct {
	Nodes     []*Node
	Services  []*Service
	Endpoints []*EndpointSlice
	// Ingresses are the Ingresses and Gateway API routes whose hosts the
	// cluster serves, in the order the source lists them (Ingresses
	// first).
	Ingresses []*Ingress
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
	// Ignored counts Services, Ingresses and routes left out by the
	// federation filter (label selector, namespaces); Invalid counts
	// objects skipped for bad data.
	Ignored int
	Invalid int
	// Missing are the kinds the cluster refuses to list (KindIngress, ...):
	// RBAC not granted, or a CRD not installed. The source retries them.
	Missing []string
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

// Ingress is the part of a networking.k8s.io/v1 Ingress, or of a Gateway
// API route with the Gateways it is attached to, that an answer reads
// (Federated Ingress, docs/ingress-and-gateway.md).
type Ingress struct {
	Kind      string // KindIngress, KindHTTPRoute or KindGRPCRoute
	Namespace string
	Name      string
	Created   time.Time // the creation timestamp: the oldest claim owns a host
	// Rules are the hosts it routes, each once, in the order first written.
	Rules []Rule
	// Addresses and Hostnames are its load-balancer ingress points, as for
	// a Service: for a route, its Gateways' addresses.
	Addresses []netip.Addr
	Hostnames []string
	// Detached is true for a route that no Programmed Gateway has
	// Accepted: its claim on its hosts stands, but it serves nothing.
	Detached bool
	// Annotations holds only Meridian's annotations, as for a Service.
	Annotations map[string]string
}

// The kinds of Ingress.
const (
	KindIngress   = "Ingress"
	KindHTTPRoute = "HTTPRoute"
	KindGRPCRoute = "GRPCRoute"
)

// Rule is one host of an Ingress or a route and the backend Services that
// serve it in its cluster.
type Rule struct {
	// Host is lower case and fully qualified; a wildcard starts with "*.".
	Host string
	// Services are the names of the backend Services, in the object's
	// namespace, sorted, each once.
	Services []string
}

// Errors reported through Sink.Error wrap one of these.
var (
	// ErrMalformed is a file or object that cannot be decoded at all.
	ErrMalformed = errors.New("malformed")
	// ErrInvalid is an object that decodes but holds data Meridian cannot use.
	ErrInvalid = errors.New("invalid object")
)

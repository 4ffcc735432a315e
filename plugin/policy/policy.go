// Package policy reads how a federated service wants to be answered from
// its Service annotations: the answer policy (closest, failover, weighted,
// roundrobin), how many shards an answer holds, the usable-capacity
// thresholds, spill-over, and its active probe. Parsing is pure: Parse
// returns the policy and the problems it found, and a bad annotation falls
// back to the default for that setting without breaking the service.
package policy

import (
	"errors"
	"strings"

	"github.com/meridian-dns/meridian/health"
)

// Kind is an answer policy.
type Kind uint8

// The policies. Closest is the default.
const (
	// Closest answers with the usable shards nearest the client.
	Closest Kind = iota
	// Failover answers with the first usable entry of an ordered list of
	// clusters or regions.
	Failover
	// Weighted makes one weighted random pick per query.
	Weighted
	// RoundRobin rotates through the usable shards, one step per query.
	RoundRobin
)

// String returns the policy's annotation value, also its metric label.
func (k Kind) String() string {
	switch k {
	case Closest:
		return "closest"
	case Failover:
		return "failover"
	case Weighted:
		return "weighted"
	case RoundRobin:
		return "roundrobin"
	}
	return "unknown"
}

// Prefix is the prefix of every annotation Meridian reads.
const Prefix = "meridian.dev/"

// Owns reports whether key is an annotation of Meridian's: one under exactly
// Prefix ("federation.meridian.dev/x" is not). Sources keep exactly these
// keys of a Service; Parse reads them, and reports those it does not know.
func Owns(key string) bool {
	return strings.HasPrefix(key, Prefix)
}

// The annotations, on the member clusters' Services.
const (
	AnnPolicy           = Prefix + "policy"             // closest|failover|weighted|roundrobin
	AnnShards           = Prefix + "shards"             // N, 1-64
	AnnFailover         = Prefix + "failover"           // "a, b, c": cluster or region names
	AnnWeights          = Prefix + "weights"            // "cluster=W, cluster=W"
	AnnMinReady         = Prefix + "min-ready"          // N ready endpoints
	AnnMinReadyFraction = Prefix + "min-ready-fraction" // 0.5 or 50%
	AnnBackends         = Prefix + "backends"           // all|any: hosts only
	AnnSpill            = Prefix + "spill"              // 10 or 10%: share of answers moved while degraded
	AnnRise             = Prefix + "rise"               // N, passive and probe
	AnnFall             = Prefix + "fall"               // N, passive and probe
	AnnProbe            = Prefix + "probe"              // off|tcp|http|https
	AnnProbePort        = Prefix + "probe-port"         // number or Service port name
	AnnProbePath        = Prefix + "probe-path"         // /healthz
	AnnProbeHost        = Prefix + "probe-host"         // Host header and TLS server name
	AnnProbeInterval    = Prefix + "probe-interval"     // 10s
	AnnProbeTimeout     = Prefix + "probe-timeout"      // 2s
	AnnProbeExpect      = Prefix + "probe-expect"       // 200-399
	AnnProbeBody        = Prefix + "probe-body"         // substring the body must hold
)

// Weight is the weight of one cluster under the weighted policy.
type Weight struct {
	Cluster string
	Weight  int
}

// Policy is how one federated service is answered and its health judged.
type Policy struct {
	// Kind is the answer policy.
	Kind Kind
	// Shards is the most shards an answer holds (at least 1).
	Shards int
	// Failover is the ordered list of the failover policy: each entry is a
	// cluster or a region name, lower case.
	Failover []string
	// Weights are the weighted policy's weights, by cluster name; a
	// cluster not listed has weight 0.
	Weights []Weight
	// MinReady is the least number of ready endpoints of a usable shard
	// (at least 1); MinReadyFraction the least share of its endpoints that
	// must be ready (0 to 1).
	MinReady         int
	MinReadyFraction float64
	// AnyBackend makes a host shard (an Ingress or route host) usable
	// when any one of its backend Services meets the minimums, not every
	// one (the default).
	AnyBackend bool
	// Spill is the share of answers (0 to 1) that go to the next-closest
	// usable shard while the closest one is degraded.
	Spill float64
	// Probe is the active probe; its Rise and Fall also govern passive
	// health. Check None means no probe.
	Probe health.Spec
	// ProbePortName is the Service port name probe-port gave, resolved to
	// a number per shard; "" when probe-port was a number or unset.
	ProbePortName string
}

// Default is the policy of a service with no annotations when the
// Corefile changes nothing: closest, one shard, one ready endpoint, no
// probe.
func Default() Policy {
	return Policy{Kind: Closest, Shards: 1, MinReady: 1, Probe: health.DefaultSpec()}
}

// Problem is an annotation that could not be used: the service keeps the
// default for that setting.
type Problem struct {
	Annotation string // the annotation key
	Value      string
	Err        error
}

// Errors of Problem.Err wrap one of these.
var (
	// ErrValue is an annotation whose value cannot be parsed or is out of range.
	ErrValue = errors.New("invalid value")
	// ErrUnknown is an annotation under Prefix that Meridian does not know.
	ErrUnknown = errors.New("unknown annotation")
	// ErrConflict is an annotation the member clusters' Services disagree
	// on; the value of the first cluster in name order is used.
	ErrConflict = errors.New("clusters disagree")
)

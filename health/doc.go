// Package health decides whether member clusters and their service shards
// can be used in answers. It imports neither CoreDNS nor client-go.
//
// # Signals
//
// A cluster's State says whether its source (API server or manifest folder)
// can be trusted at all. Within a usable cluster, a shard (one service in
// one cluster, named by Key) has two health signals:
//
//   - Passive: what Kubernetes says, the shard's ready endpoints. It arrives
//     as events from the watch layer; Passive smooths it.
//   - Active: a probe of the shard's load-balancer addresses from here, the
//     way a client would reach them (Spec.Check TCP, HTTP or HTTPS). It is
//     sampled every Spec.Interval; Prober runs it in the background, never
//     on a query path.
//
// A shard is healthy when its passive signal is up AND its probe, if one is
// configured, is up: each signal goes through its own hysteresis first, with
// the Rise and Fall of the shard's Spec. A passing probe cannot make up for
// a shard Kubernetes calls unready, and ready endpoints behind a dead load
// balancer are not used.
//
// # Rise and fall
//
// A signal goes down only after Fall failing results in a row and up only
// after Rise passing results in a row, never in between (HAProxy's rise and
// fall, Route 53's failure threshold). Defaults are rise 2, fall 3.
//
//	results (rise 2, fall 3)  state after each
//	ok                        up      first result: taken at once
//	fail fail                 up up   2 < fall
//	fail                      down    third failure in a row
//	ok fail ok                down ×3 a failure resets the run of passes
//	ok                        up      second pass in a row
//
// Two rules cover the start. A probe target is pending (treated as up, as
// Route 53 treats a new health check) until its first result, and that
// first result sets its state directly, so a load balancer that is dead at
// startup is dropped after one probe instead of Fall. A shard Passive sees
// for the first time takes its raw signal at once for the same reason. A
// probe target whose Spec changes keeps its state, but the first result
// under the new Spec sets it directly again.
//
// The passive signal has no samples to count, so Passive times it instead:
// it behaves as if the raw signal were sampled every PassiveConfig.Interval
// (250 ms by default) from the moment it changed. A shard goes down once
// its raw signal has been bad for (fall-1) intervals without a break, and
// up once it has been good for (rise-1) intervals; with fall 1 it goes down
// at once. One timer, for the earliest pending change, asks the caller to
// look again (PassiveConfig.OnDue).
//
// # Probing
//
// Prober keeps a min-heap of next run times and one timer, not a goroutine
// or ticker per target, and a pool of Concurrency workers (64 by default)
// bounds the probes in flight. A new target's first probe runs at a
// uniformly random offset within its first interval, so thousands of
// shards added at once do not probe in lockstep; later probes follow every
// Interval with ±5% jitter. Each probe opens a new connection: TCP probes
// close it with SO_LINGER 0 (a reset, so no TIME_WAIT sockets pile up, as
// HAProxy does); HTTP and HTTPS probes send one GET with "Connection:
// close", do not verify certificates (Route 53 does not either) and are
// bounded as a whole by Spec.Timeout. A hostname target is dialed by its
// absolute name (trailing dot kept), so resolv.conf search domains are
// not tried first.
//
// ProberConfig.Allow lists the networks probes may connect to. It is
// checked on every connection after name resolution, so a hostname target
// cannot reach an address outside it; a refused address is a failing probe
// whose error wraps ErrNotAllowed.
//
// Each transition is logged once; nothing is logged per probe. Metric
// labels are bounded (check, result, signal, to): never an address or a
// service name.
package health

import "errors"

// Errors of failing probes wrap one of these, or are the network's own.
var (
	// ErrNotAllowed is a probe connection to an address outside
	// ProberConfig.Allow; it was not attempted (or closed at once).
	ErrNotAllowed = errors.New("address not allowed for probes")
	// ErrTimeout is a probe that did not finish within Spec.Timeout.
	ErrTimeout = errors.New("probe timed out")
	// ErrStatus is an HTTP answer whose status is outside
	// Spec.ExpectLow-ExpectHigh.
	ErrStatus = errors.New("unexpected HTTP status")
	// ErrBody is an HTTP answer whose first 64 KiB lack Spec.Body.
	ErrBody = errors.New("expected text not in body")
)

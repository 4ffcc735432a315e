package upstream

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promreg"
)

// Metric name parts. The caller adds its own prefix ("coredns_") by wrapping
// the Registerer.
const (
	metricsNamespace = "meridian"
	metricsSubsystem = "upstream"
)

// Values of the result label of requests_total.
const (
	resultSuccess  = "success"  // a final reply: any rcode but SERVFAIL and REFUSED
	resultTimeout  = "timeout"  // no reply before the deadline
	resultError    = "error"    // refused, unreachable, mismatched or malformed
	resultServfail = "servfail" // a SERVFAIL reply
	resultRefused  = "refused"  // a REFUSED reply
)

// metrics holds the collectors. The server label is a configured address,
// so the series are bounded by the configuration.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	hits     prometheus.Counter
	misses   prometheus.Counter
	entries  prometheus.Gauge
}

// newMetrics creates the collectors and registers them on reg (nil: not
// registered). A collector registered already on reg, as after a CoreDNS
// Corefile reload, is reused so both Upstreams count into the same series.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}
	}
	var (
		m   metrics
		err error
	)
	if m.requests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("requests_total",
		"Attempts at upstream servers by server and result (success, timeout, error, servfail, refused).")),
		[]string{"server", "result"})); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "duration_seconds",
		Help:    "Duration of attempts at upstream servers, a TCP retry after truncation included.",
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16), // 0.25 ms to 8 s
	}, []string{"server"})); err != nil {
		return nil, err
	}
	if m.hits, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts(opts("cache_hits_total",
		"Upstream queries answered from the cache.")))); err != nil {
		return nil, err
	}
	if m.misses, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts(opts("cache_misses_total",
		"Cacheable upstream queries the cache could not answer.")))); err != nil {
		return nil, err
	}
	if m.entries, err = register(reg, prometheus.NewGauge(prometheus.GaugeOpts(opts("cache_entries",
		"Replies in the upstream cache.")))); err != nil {
		return nil, err
	}
	return &m, nil
}

// serverMetrics are one server's series, resolved once so an attempt does
// not look labels up.
type serverMetrics struct {
	results  map[string]prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) forServer(addr string) serverMetrics {
	sm := serverMetrics{results: map[string]prometheus.Counter{}, duration: m.duration.WithLabelValues(addr)}
	for _, r := range []string{resultSuccess, resultTimeout, resultError, resultServfail, resultRefused} {
		sm.results[r] = m.requests.WithLabelValues(addr, r)
	}
	return sm
}

// register registers c on reg through the shared helper, wrapping a failure
// in ErrMetrics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	c, err := promreg.Register(reg, c)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrMetrics, err)
	}
	return c, nil
}

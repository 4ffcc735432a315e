package health

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/logging"
	"github.com/meridian-dns/meridian/internal/promreg"
)

// metricsNamespace is the metric name prefix. The caller adds its own
// ("coredns_") by wrapping the Registerer.
const metricsNamespace = "meridian"

// Probe outcomes, the values of the result label.
const (
	resultSuccess = iota
	resultFailure
	resultTimeout
	numResults
)

var resultNames = [numResults]string{"success", "failure", "timeout"}

// Transition counters of one signal, by new state.
type transitionCounters struct {
	up, down prometheus.Counter
}

// count adds one transition to the state up.
func (c transitionCounters) count(up bool) {
	if up {
		c.up.Inc()
	} else {
		c.down.Inc()
	}
}

// newTransitions returns the counters of meridian_health_transitions_total
// for one signal ("probe" or "passive"), registered on reg (nil: not
// registered). A registration that fails for another reason than an
// earlier registration of the same metric is logged, and counting goes on
// into unregistered counters.
func newTransitions(reg prometheus.Registerer, log logging.Logger, signal string) transitionCounters {
	vec := register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "health_transitions_total",
		Help: "Shard health transitions after hysteresis, by signal (probe, passive) and new state (up, down).",
	}, []string{"signal", "to"}))
	return transitionCounters{up: vec.WithLabelValues(signal, "up"), down: vec.WithLabelValues(signal, "down")}
}

// proberMetrics holds a Prober's collectors, with the series of every
// label value made up front so a probe looks nothing up.
type proberMetrics struct {
	probes      [HTTPS + 1][numResults]prometheus.Counter // by check, result
	duration    [HTTPS + 1]prometheus.Observer            // by check
	targets     prometheus.Gauge
	transitions transitionCounters
}

// newProberMetrics creates a Prober's collectors and registers them on reg
// (nil: not registered), reusing collectors registered already, as after a
// CoreDNS Corefile reload.
func newProberMetrics(reg prometheus.Registerer, log logging.Logger) *proberMetrics {
	probes := register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "probes_total",
		Help: "Active probes by check (tcp, http, https) and result (success, failure, timeout).",
	}, []string{"check", "result"}))
	duration := register(reg, log, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Name: "probe_duration_seconds",
		Help:    "Time taken by active probes, by check (tcp, http, https).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"check"}))
	m := &proberMetrics{
		targets: register(reg, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Name: "probe_targets",
			Help: "Addresses being probed.",
		})),
		transitions: newTransitions(reg, log, "probe"),
	}
	for c := TCP; c <= HTTPS; c++ {
		for r := range numResults {
			m.probes[c][r] = probes.WithLabelValues(c.String(), resultNames[r])
		}
		m.duration[c] = duration.WithLabelValues(c.String())
	}
	return m
}

// register registers c on reg through the shared helper; a failure is
// logged and c counts unexported.
func register[C prometheus.Collector](reg prometheus.Registerer, log logging.Logger, c C) C {
	c, err := promreg.Register(reg, c)
	if err != nil {
		log.Warningf("health: cannot register a metric, it is not exported: %v", err)
	}
	return c
}

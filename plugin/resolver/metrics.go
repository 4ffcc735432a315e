package resolver

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/meridian-dns/meridian/plugin/model"
)

// Counters, in CoreDNS's style: package-level, on the default registry
// that the prometheus plugin serves.
var (
	resolverAnswers = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "meridian",
		Name:      "resolver_answers_total",
		Help:      "Resolver role: answers for global service names, by service and answer (local: the local cluster's shard; remote: the upstream servers'). Services the local cluster does not run, and every service with shard_metrics off, count under empty namespace and service.",
	}, []string{"namespace", "service", "answer"})
	resolverStaleAnswers = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "meridian",
		Name:      "resolver_stale_upstream_answers_total",
		Help:      "Resolver role: remote answers in which the upstream servers still named the local shard found unhealthy; served with TTL 1 and not cached.",
	})
	resolverForwards = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "meridian",
		Name:      "resolver_forwards_total",
		Help:      "Resolver role: queries forwarded to the upstream servers unchanged.",
	})
	resolverUpstreamErrors = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "meridian",
		Name:      "resolver_upstream_errors_total",
		Help:      "Resolver role: queries answered SERVFAIL because no upstream server gave a usable answer.",
	})
)

// counters returns the local and remote answer counters of service k: its
// own with shard_metrics on, else those of every service.
func (r *Resolver) counters(k model.Key) (local, remote prometheus.Counter) {
	if !r.cfg.ShardMetrics {
		k = model.Key{}
	}
	return resolverAnswers.WithLabelValues(k.Namespace, k.Name, "local"),
		resolverAnswers.WithLabelValues(k.Namespace, k.Name, "remote")
}

// forget deletes the answer counters of the services of prev that idx no
// longer has, so that a service that left takes its series with it.
func (r *Resolver) forget(prev, idx *localIndex) {
	if prev == nil || !r.cfg.ShardMetrics {
		return
	}
	for k := range prev.services {
		if _, ok := idx.services[k]; !ok {
			resolverAnswers.DeleteLabelValues(k.Namespace, k.Name, "local")
			resolverAnswers.DeleteLabelValues(k.Namespace, k.Name, "remote")
		}
	}
}

// EachLocal calls f with every service of the current index and whether
// it is answered locally, for the plugin's gauges.
func (r *Resolver) EachLocal(f func(k model.Key, local bool)) {
	idx := r.index.Load()
	if idx == nil {
		return
	}
	for k, ls := range idx.services {
		f(k, ls.why.Local())
	}
}

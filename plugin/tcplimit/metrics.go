package tcplimit

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The cap's series, by server (dns://host:port, as CoreDNS labels its
// own): one per address of the Corefile, never a client's.
var (
	evictedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "meridian",
		Name:      "tcp_evicted_total",
		Help:      "TCP connections reset to make room for a new one at the address's cap (max_tcp_connections): the one quiet longest.",
	}, []string{"server"})
	connectionsGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "meridian",
		Name:      "tcp_connections",
		Help:      "TCP connections open on an address with a cap (max_tcp_connections).",
	}, []string{"server"})
)

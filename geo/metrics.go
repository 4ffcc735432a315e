package geo

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promreg"
)

// Metric name parts. The caller adds its own prefix ("coredns_") by wrapping
// the Registerer.
const (
	metricsNamespace = "meridian"
	metricsSubsystem = "geoip"
)

// metrics holds the Locator's collectors. No label ever carries an address.
type metrics struct {
	hits      prometheus.Counter // cache hits
	misses    prometheus.Counter // cache misses (database lookups)
	unknown   prometheus.Counter // Locate results with Known=false
	entries   prometheus.Gauge   // client networks in the cache now
	reloadOK  prometheus.Counter // reloads that swapped in a new database
	reloadErr prometheus.Counter // reloads that failed and kept the old one
}

// newMetrics creates the collectors and registers them on reg (nil: not
// registered). A collector registered already on reg, as after a CoreDNS
// Corefile reload, is reused so both Locators count into the same series.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help,
		})
	}
	var (
		m   metrics
		err error
	)
	if m.hits, err = register(reg, counter("cache_hits_total",
		"GeoIP lookups answered from the cache.")); err != nil {
		return nil, err
	}
	if m.misses, err = register(reg, counter("cache_misses_total",
		"GeoIP lookups that missed the cache and read the database.")); err != nil {
		return nil, err
	}
	if m.unknown, err = register(reg, counter("unknown_total",
		"GeoIP lookups that found no location for the client.")); err != nil {
		return nil, err
	}
	if m.entries, err = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "cache_entries",
		Help: "Client networks the GeoIP location cache holds (at most geoip_cache).",
	})); err != nil {
		return nil, err
	}
	reloads, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "reloads_total",
		Help: "GeoIP database reloads by result (ok, error).",
	}, []string{"result"}))
	if err != nil {
		return nil, err
	}
	m.reloadOK = reloads.WithLabelValues("ok")
	m.reloadErr = reloads.WithLabelValues("error")
	return &m, nil
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

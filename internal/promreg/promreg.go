// Package promreg holds what Meridian's libraries share about Prometheus
// registration.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns the collector to use: c itself,
// or the one registered before it under the same description (as after a
// CoreDNS Corefile reload, so the old and new instances count into the same
// series). A nil reg registers nothing. Any other registration error is
// returned with c, which then counts unexported.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

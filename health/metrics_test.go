package health

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promtest"
)

// TestMetricsLabels checks that every label is one of the bounded ones.
func TestMetricsLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewProber(ProberConfig{Registerer: reg})
	NewPassive(PassiveConfig{Registerer: reg})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"check": true, "result": true, "signal": true, "to": true}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !allowed[lp.GetName()] {
					t.Errorf("%s has label %s", f.GetName(), lp.GetName())
				}
			}
		}
	}
	for _, n := range []string{"meridian_probes_total", "meridian_probe_duration_seconds",
		"meridian_health_transitions_total", "meridian_probe_targets"} {
		if !names[n] {
			t.Errorf("%s not registered; have %v", n, names)
		}
	}
}

// TestMetricsReregister is a CoreDNS reload: a second Prober and Passive on
// the same registry count into the first ones' series.
func TestMetricsReregister(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	log := &testLogger{}
	a := NewPassive(PassiveConfig{Registerer: reg, Logger: log, Interval: 1})
	b := NewPassive(PassiveConfig{Registerer: reg, Logger: log, Interval: 1})
	NewProber(ProberConfig{Registerer: reg, Logger: log})
	NewProber(ProberConfig{Registerer: reg, Logger: log})
	k := Key{Cluster: "c1", Name: "web"}
	for _, p := range []*Passive{a, b} {
		p.Observe(k, true, 1, 1)
		p.Observe(k, false, 1, 1)
	}
	promtest.Check(t, reg, map[string]float64{`meridian_health_transitions_total{signal=passive}{to=down}`: 2})
	for _, l := range log.all() {
		if l[0] == 'W' {
			t.Errorf("warning on a second registration: %s", l)
		}
	}
}

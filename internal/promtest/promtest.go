// Package promtest reads gathered Prometheus series in tests.
package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Values gathers g and returns every counter and gauge series as
// "name{label=value}..." to its value, and every histogram's sample count
// under the same key with "_count" appended.
func Values(t testing.TB, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, lp := range m.GetLabel() {
				key += "{" + lp.GetName() + "=" + lp.GetValue() + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				got[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				got[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				got[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}

// Check fails t for every series of want that g lacks or holds with
// another value.
func Check(t testing.TB, g prometheus.Gatherer, want map[string]float64) {
	t.Helper()
	got := Values(t, g)
	for name, w := range want {
		v, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s missing; have %v", name, got)
		case v != w:
			t.Errorf("%s = %v, want %v", name, v, w)
		}
	}
}

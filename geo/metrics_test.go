package geo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promtest"
)

func TestMetricsCounts(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	l := newLocator(t, Config{Path: testDB, Registerer: reg})
	for _, c := range []string{
		"27.0.1.2/32",   // miss
		"27.0.1.99/32",  // hit: same /24
		"27.0.2.1/32",   // miss
		"5.0.0.1/32",    // miss, unknown
		"5.0.0.2/32",    // hit, unknown
		"2600::1/128",   // miss
		"2600::2/128",   // hit: same /56
		"0.0.0.0/0",     // no lookup, unknown
		"10.1.2.3/32",   // miss, unknown
		"10.1.2.200/32", // hit, unknown
	} {
		l.Locate(prefix(c))
	}
	promtest.Check(t, reg, map[string]float64{
		"meridian_geoip_cache_hits_total":            4,
		"meridian_geoip_cache_misses_total":          5,
		"meridian_geoip_unknown_total":               5,
		"meridian_geoip_cache_entries":               5,
		"meridian_geoip_reloads_total{result=ok}":    0,
		"meridian_geoip_reloads_total{result=error}": 0,
	})
	if n := len(promtest.Values(t, reg)); n != 6 {
		t.Errorf("%d series, want 6: %v", n, promtest.Values(t, reg))
	}
}

func TestMetricsRegisteredTwice(t *testing.T) {
	tests := []struct {
		name   string
		wrap   func(prometheus.Registerer) prometheus.Registerer
		prefix string
	}{
		{"plain", func(r prometheus.Registerer) prometheus.Registerer { return r }, ""},
		{"coredns prefix", func(r prometheus.Registerer) prometheus.Registerer {
			return prometheus.WrapRegistererWithPrefix("coredns_", r)
		}, "coredns_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			// As on a Corefile reload: a new Locator on a freshly wrapped
			// registerer, then the old one stops.
			first := newLocator(t, Config{Path: testDB, Registerer: tt.wrap(reg)})
			second := newLocator(t, Config{Path: testDB, Registerer: tt.wrap(reg)})
			first.Locate(prefix("27.0.1.2/32"))
			first.Stop()
			second.Locate(prefix("27.0.1.2/32"))
			second.Locate(prefix("27.0.1.3/32"))
			promtest.Check(t, reg, map[string]float64{
				tt.prefix + "meridian_geoip_cache_misses_total": 2,
				tt.prefix + "meridian_geoip_cache_hits_total":   1,
			})
		})
	}
}

func TestMetricsConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_geoip_unknown_total", Help: "Something else."}))
	_, err := New(Config{Path: testDB, Registerer: reg})
	if !errors.Is(err, ErrMetrics) {
		t.Errorf("New with a conflicting metric: error %v, want ErrMetrics", err)
	}
}

// TestMetricsCacheEntries checks the cache_entries gauge against the
// cache: it follows misses up to the bound, never past it, and drops to
// zero when a reload purges the cache.
func TestMetricsCacheEntries(t *testing.T) {
	const size = 16
	tests := []struct {
		name    string
		clients []string
		want    float64
	}{
		{"one miss", []string{"27.0.1.2/32"}, 1},
		{"hits add nothing", []string{"27.0.1.2/32", "27.0.1.3/32", "27.0.1.0/24"}, 1},
		{"a /56 is one entry", []string{"2600::1/128", "2600:0:0:ff::/64"}, 1},
		{"the bound holds", spread(4 * size), size},
		{"the bound exactly", spread(size), size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			l := newLocator(t, Config{Path: testDB, CacheSize: size, Registerer: reg})
			for _, c := range tt.clients {
				l.Locate(prefix(c))
				if got := promtest.Values(t, reg)["meridian_geoip_cache_entries"]; got > size {
					t.Fatalf("after %s: %v entries, above the bound %d", c, got, size)
				}
			}
			promtest.Check(t, reg, map[string]float64{"meridian_geoip_cache_entries": tt.want})
			if got := float64(l.cache.Len()); got != tt.want {
				t.Errorf("the cache holds %v entries, want %v", got, tt.want)
			}
		})
	}
	t.Run("purged by a reload", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		path := copyTestDB(t)
		l := newLocator(t, Config{Path: path, CacheSize: size, Registerer: reg})
		for _, c := range spread(size) {
			l.Locate(prefix(c))
		}
		writeFile(t, path, variantDB(t))
		if err := l.Reload(); err != nil {
			t.Fatal(err)
		}
		promtest.Check(t, reg, map[string]float64{"meridian_geoip_cache_entries": 0})
	})
}

// spread returns n clients in n distinct /24s across the IPv4 space.
func spread(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%d.%d.%d.1/32", 1+i*211%222, i*37%256, i%256)
	}
	return out
}

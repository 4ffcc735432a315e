package upstream

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promtest"
)

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  error
	}{
		{"ok", Config{Servers: []string{"127.0.0.1:53", "[::1]:5353"}}, nil},
		{"mapped IPv4 is IPv4", Config{Servers: []string{"[::ffff:127.0.0.1]:53"}}, nil},
		{"no servers", Config{}, ErrConfig},
		{"host name", Config{Servers: []string{"localhost:53"}}, ErrConfig},
		{"no port", Config{Servers: []string{"127.0.0.1"}}, ErrConfig},
		{"port 0", Config{Servers: []string{"127.0.0.1:0"}}, ErrConfig},
		{"zone", Config{Servers: []string{"[fe80::1%lo]:53"}}, ErrConfig},
		{"twice", Config{Servers: []string{"127.0.0.1:53", "[::ffff:127.0.0.1]:53"}}, ErrConfig},
		{"net tls", Config{Servers: []string{"127.0.0.1:53"}, Net: "tcp-tls"}, ErrConfig},
		{"negative timeout", Config{Servers: []string{"127.0.0.1:53"}, Timeout: -1}, ErrConfig},
		{"negative total", Config{Servers: []string{"127.0.0.1:53"}, Total: -1}, ErrConfig},
		{"negative failback", Config{Servers: []string{"127.0.0.1:53"}, Failback: -1}, ErrConfig},
		{"negative cache", Config{Servers: []string{"127.0.0.1:53"}, CacheSize: -1}, ErrConfig},
		{"max TTL under 1s", Config{Servers: []string{"127.0.0.1:53"}, MaxTTL: time.Millisecond}, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	u, err := New(Config{Servers: []string{"[::ffff:127.0.0.1]:53"}})
	if err != nil {
		t.Fatal(err)
	}
	c := u.cfg
	if c.Net != "udp" || c.Timeout != 2*time.Second || c.Total != 5*time.Second ||
		c.Failback != 30*time.Second || c.MaxTTL != 300*time.Second || u.cache != nil {
		t.Errorf("defaults: net %q timeout %v total %v failback %v max TTL %v cache %v",
			c.Net, c.Timeout, c.Total, c.Failback, c.MaxTTL, u.cache != nil)
	}
	if len(c.servers) != 1 || c.servers[0] != "127.0.0.1:53" {
		t.Errorf("servers %q, want the mapped address unmapped", c.servers)
	}
}

func TestMetricsReregister(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	cfg := Config{Servers: []string{"127.0.0.1:53"}, Registerer: reg, CacheSize: 8}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg) // as after a Corefile reload
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	a.m.hits.Inc()
	b.m.hits.Inc()
	promtest.Check(t, reg, map[string]float64{"meridian_upstream_cache_hits_total": 2})

	clash := prometheus.NewPedanticRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_upstream_cache_hits_total", Help: "x"}))
	if _, err := New(Config{Servers: []string{"127.0.0.1:53"}, Registerer: clash}); !errors.Is(err, ErrMetrics) {
		t.Errorf("clashing metric: err %v, want ErrMetrics", err)
	}
}

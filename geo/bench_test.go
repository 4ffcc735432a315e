package geo

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promtest"
)

// benchClients returns n /32 clients in n different /24s of the test
// database's networks.
func benchClients(n int) []netip.Prefix {
	firsts := []byte{27, 36, 43, 24, 63, 81, 85, 41, 177, 5}
	clients := make([]netip.Prefix, n)
	for i := range clients {
		a := netip.AddrFrom4([4]byte{firsts[i%len(firsts)], 0, byte(i / len(firsts)), 7})
		clients[i] = netip.PrefixFrom(a, 32)
	}
	return clients
}

func BenchmarkLocateHit(b *testing.B) {
	reg := prometheus.NewPedanticRegistry()
	l := newLocator(b, Config{Path: testDB, Registerer: reg})
	clients := benchClients(1024)
	for _, c := range clients {
		l.Locate(c)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		l.Locate(clients[n%len(clients)])
		n++
	}
	checkCache(b, reg, float64(n), float64(len(clients)))
}

// checkCache fails b unless the location cache counted hits and misses:
// a benchmark of hits that missed, or of misses that hit, timed the
// wrong path.
func checkCache(b *testing.B, reg *prometheus.Registry, hits, misses float64) {
	b.Helper()
	v := promtest.Values(b, reg)
	if h, m := v["meridian_geoip_cache_hits_total"], v["meridian_geoip_cache_misses_total"]; h != hits || m != misses {
		b.Fatalf("cache hits %v, misses %v; want %v and %v", h, m, hits, misses)
	}
}

// BenchmarkLocateHitParallel measures hits from all CPUs at once: they share
// the cache's lock but never the database lock.
func BenchmarkLocateHitParallel(b *testing.B) {
	reg := prometheus.NewPedanticRegistry()
	l := newLocator(b, Config{Path: testDB, Registerer: reg})
	clients := benchClients(1024)
	for _, c := range clients {
		l.Locate(c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			l.Locate(clients[i%len(clients)])
		}
	})
	b.StopTimer()
	checkCache(b, reg, float64(b.N), float64(len(clients)))
}

// BenchmarkLocateMiss uses a one-entry cache and alternating networks, so
// every call reads the database.
func BenchmarkLocateMiss(b *testing.B) {
	reg := prometheus.NewPedanticRegistry()
	l := newLocator(b, Config{Path: testDB, CacheSize: 1, Registerer: reg})
	clients := benchClients(1024)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		l.Locate(clients[n%len(clients)])
		n++
	}
	checkCache(b, reg, 0, float64(n))
}

func BenchmarkLocateNoDatabase(b *testing.B) {
	l := newLocator(b, Config{})
	client := netip.MustParsePrefix("27.0.1.2/32")
	b.ReportAllocs()
	for b.Loop() {
		l.Locate(client)
	}
}

func BenchmarkDistance(b *testing.B) {
	var sink float64
	for b.Loop() {
		sink += Distance(taipei, chicago)
	}
	_ = sink
}

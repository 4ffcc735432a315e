package geo

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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
	l := newLocator(b, Config{Path: testDB, Registerer: prometheus.NewRegistry()})
	clients := benchClients(1024)
	for _, c := range clients {
		l.Locate(c)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Locate(clients[i%len(clients)])
	}
}

// BenchmarkLocateHitParallel measures hits from all CPUs at once: they share
// the cache's lock but never the database lock.
func BenchmarkLocateHitParallel(b *testing.B) {
	l := newLocator(b, Config{Path: testDB, Registerer: prometheus.NewRegistry()})
	clients := benchClients(1024)
	for _, c := range clients {
		l.Locate(c)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			l.Locate(clients[i%len(clients)])
		}
	})
}

// BenchmarkLocateMiss uses a one-entry cache and alternating networks, so
// every call reads the database.
func BenchmarkLocateMiss(b *testing.B) {
	l := newLocator(b, Config{Path: testDB, CacheSize: 1, Registerer: prometheus.NewRegistry()})
	clients := benchClients(1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Locate(clients[i%len(clients)])
	}
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

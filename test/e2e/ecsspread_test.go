package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// spreadCache is the geoip_cache TestECSSpread runs with.
const spreadCache = 1024

// TestECSSpread sends the demo server (fast path on, geoip_cache 1024)
// queries for nginx from an adversarial spread of client networks: 40,000
// random /24s across the whole IPv4 space and 10,000 random /56s across
// IPv6, each new to the location cache. The cache must stay within its
// bound (the coredns_meridian_geoip_cache_entries gauge, read after every
// 1,000 queries), RSS after 10x the cache size of networks must be close
// to RSS after 1x, and every query must be answered. The hit ratio under
// the spread is logged beside that of a realistic mix (100 networks
// repeated), before and after the spread.
func TestECSSpread(t *testing.T) {
	s := startDemoWith(t, "        hostmaster hostmaster.example.com\n",
		fmt.Sprintf("        hostmaster hostmaster.example.com\n        geoip_cache %d\n", spreadCache))
	r := rand.New(rand.NewPCG(16, 56))
	mix := make([]net.IPNet, 100)
	for i := range mix {
		mix[i] = randomNet(r, i%5 == 0)
	}
	sp := &spreadRun{t: t, s: s, maxEntries: -1}

	sp.phase("realistic mix before", repeatNets(mix, 10000))
	var spread []net.IPNet
	seen := map[string]bool{}
	for len(spread) < 50000 {
		n := randomNet(r, len(spread)%5 == 4)
		if !seen[n.String()] && !inMix(mix, n) {
			seen[n.String()] = true
			spread = append(spread, n)
		}
	}
	rss1 := sp.phase("spread, 1x the cache", spread[:spreadCache])
	rss10 := sp.phase("spread, to 10x the cache", spread[spreadCache:10*spreadCache])
	sp.phase("spread, to 50,000 networks", spread[10*spreadCache:])
	sp.phase("realistic mix after", repeatNets(mix, 10000))

	t.Logf("cache entries: at most %d seen (geoip_cache %d)", sp.maxEntries, spreadCache)
	if sp.maxEntries > spreadCache || sp.maxEntries < spreadCache/2 {
		t.Errorf("the cache held up to %d entries; want at most %d, and full under the spread", sp.maxEntries, spreadCache)
	}
	const margin = 16 << 20
	if rss10 > rss1+margin {
		t.Errorf("RSS grew from %d MiB after %d networks to %d MiB after %d: more than %d MiB", rss1>>20, spreadCache, rss10>>20, 10*spreadCache, margin>>20)
	}
	scopes(t, s, spread[:200])
}

// spreadRun sends the phases of TestECSSpread and keeps what they saw.
type spreadRun struct {
	t          *testing.T
	s          *server
	maxEntries int
}

// phase sends one nginx A query from each network in nets, in bursts of
// 1,000, reading the cache's size after each, and logs the phase's hit
// ratio, replies and the server's RSS, which it returns. Every reply must
// be NOERROR; UDP may lose some queries (the bursts outrun a race-built
// server on a busy machine: a tenth was seen), not half.
func (sp *spreadRun) phase(name string, nets []net.IPNet) int64 {
	t, s := sp.t, sp.s
	before := s.Scrape(t)
	st := newFuzzStats()
	for i := 0; i < len(nets); i += 1000 {
		var pkts [][]byte
		for _, n := range nets[i:min(i+1000, len(nets))] {
			pkts = append(pkts, e2eutil.Query(nginx, n))
		}
		st.add(sendUDP(t, s.DNS, pkts))
		e := int(metricValue(s.Scrape(t), "coredns_meridian_geoip_cache_entries"))
		sp.maxEntries = max(sp.maxEntries, e)
		if e > spreadCache {
			t.Errorf("%s: %d cache entries, above geoip_cache %d", name, e, spreadCache)
		}
	}
	after := s.Scrape(t)
	delta := func(series string) float64 { return metricValue(after, series) - metricValue(before, series) }
	hits, misses := delta("coredns_meridian_geoip_cache_hits_total"), delta("coredns_meridian_geoip_cache_misses_total")
	rss := s.RSS(t)
	t.Logf("%s: %d queries, %d replies (%s), fast path answered %v; cache %v hits, %v misses, hit ratio %.3f, %v entries; RSS %.1f MiB",
		name, st.sent, st.replies, st.byRcode(), delta(`coredns_meridian_fastpath_packets_total{path="answered"}`),
		hits, misses, hits/max(hits+misses, 1), metricValue(after, "coredns_meridian_geoip_cache_entries"), float64(rss)/(1<<20))
	for _, e := range st.examples {
		t.Errorf("%s: %s", name, e)
	}
	if st.replies < st.sent/2 || st.replies != st.rcodes["NOERROR"] {
		t.Errorf("%s: %d queries, %d replies by rcode %s; want all NOERROR, and most answered", name, st.sent, st.replies, st.byRcode())
	}
	return rss
}

// scopes asks for nginx from some of the spread's networks and logs the
// ECS scopes of the answers: the widened scope table's work, which the
// spread does not change (it holds no per-client state).
func scopes(t *testing.T, s *server, nets []net.IPNet) {
	t.Helper()
	count := map[string]int{}
	for _, n := range nets {
		r, err := s.Exchange("udp", nginx, dns.TypeA, n.String())
		if err != nil {
			t.Fatalf("%s: %v", n.String(), err)
		}
		fam := "v4"
		if n.IP.To4() == nil {
			fam = "v6"
		}
		ecs := e2eutil.Subnet(r)
		if ecs == nil {
			t.Fatalf("%s: no ECS in the reply", n.String())
		}
		count[fmt.Sprintf("%s/%d", fam, ecs.SourceScope)]++
	}
	var out []string
	for k, v := range count {
		out = append(out, fmt.Sprintf("%s:%d", k, v))
	}
	sort.Strings(out)
	t.Logf("ECS scopes of %d answers from the spread (family/scope:count): %s", len(nets), strings.Join(out, " "))
}

// randomNet returns a random /24, or a random /56 with v6, from anywhere
// in the address space.
func randomNet(r *rand.Rand, v6 bool) net.IPNet {
	var a [16]byte
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	p := netip.PrefixFrom(netip.AddrFrom4([4]byte(a[:4])), 24).Masked()
	if v6 {
		p = netip.PrefixFrom(netip.AddrFrom16(a), 56).Masked()
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20}), 56)
		}
	}
	return net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// repeatNets returns nets over and over, n in all.
func repeatNets(nets []net.IPNet, n int) []net.IPNet {
	out := make([]net.IPNet, n)
	for i := range out {
		out[i] = nets[i%len(nets)]
	}
	return out
}

func inMix(mix []net.IPNet, n net.IPNet) bool {
	for _, m := range mix {
		if m.String() == n.String() {
			return true
		}
	}
	return false
}

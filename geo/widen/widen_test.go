package widen

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/meridian-dns/meridian/geo"
)

var (
	west = geo.Point{Lat: 0, Lon: -60}
	east = geo.Point{Lat: 0, Lon: 60}
	locs = []geo.Point{west, east}
)

func net4(s string, p geo.Point) Network {
	return Network{Prefix: netip.MustParsePrefix(s), Point: p, Known: true}
}

// TestMerge: siblings of one order become their parent, up the tree;
// siblings of two orders, and neighbours that are not siblings, do not;
// the space no network covers is Unknown and merges too.
func TestMerge(t *testing.T) {
	o := NewOrders(locs, 0)
	merged := Merge([]Network{
		net4("10.0.0.0/25", geo.Point{Lat: 1, Lon: -50}),
		net4("10.0.0.128/25", geo.Point{Lat: 2, Lon: -40}), // another place, the same order
		net4("10.0.1.0/24", geo.Point{Lat: 0, Lon: 50}),
		net4("10.0.2.0/24", geo.Point{Lat: 0, Lon: 50}), // not a sibling of 10.0.1.0/24
		net4("10.0.3.0/24", geo.Point{Lat: 0, Lon: -50}),
		{Prefix: netip.MustParsePrefix("10.0.4.0/24")}, // no coordinates
	}, o)
	for _, tc := range []struct {
		addr, want string
		order      int32
	}{
		{"10.0.0.5", "10.0.0.0/24", o.Of(west)},
		{"10.0.0.200", "10.0.0.0/24", o.Of(west)},
		{"10.0.1.9", "10.0.1.0/24", o.Of(east)},
		{"10.0.2.9", "10.0.2.0/24", o.Of(east)},
		{"10.0.3.9", "10.0.3.0/24", o.Of(west)},
		{"10.0.4.9", "10.0.4.0/22", Unknown}, // with the uncovered 10.0.5.0-10.0.7.255
		{"9.255.255.255", "8.0.0.0/7", Unknown},
		{"0.0.0.1", "0.0.0.0/5", Unknown},
		{"255.255.255.255", "128.0.0.0/1", Unknown},
	} {
		got := Lookup(merged, netip.MustParseAddr(tc.addr))
		if got.Prefix.String() != tc.want || got.Order != tc.order {
			t.Errorf("Lookup(%s) = %v, want %s order %d", tc.addr, got, tc.want, tc.order)
		}
	}
	checkCover(t, merged)
}

// checkCover checks that merged covers the IPv4 space in address order,
// without gaps or overlaps, and that no two siblings of one order are left.
func checkCover(t *testing.T, merged []Merged) {
	t.Helper()
	next := uint64(0)
	for i, m := range merged {
		start := uint64(v4(m.Prefix.Addr()))
		if start != next || m.Prefix.Masked() != m.Prefix {
			t.Fatalf("network %d %s: starts at %d, want %d", i, m.Prefix, start, next)
		}
		next = start + 1<<(32-m.Prefix.Bits())
		if i > 0 {
			p := merged[i-1]
			if p.Order == m.Order && p.Prefix.Bits() == m.Prefix.Bits() && m.Prefix.Bits() > 0 {
				parent, _ := m.Prefix.Addr().Prefix(m.Prefix.Bits() - 1)
				if parent.Addr() == p.Prefix.Addr() {
					t.Fatalf("siblings %s and %s of one order not merged", p.Prefix, m.Prefix)
				}
			}
		}
	}
	if next != 1<<32 {
		t.Fatalf("the networks end at %d", next)
	}
}

// TestMergeRandom: for random databases, every client's widened network
// holds only clients of its own order.
func TestMergeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 20 {
		o := NewOrders([]geo.Point{west, east, {Lat: 50, Lon: 0}}, 1+round%3)
		var nets []Network
		addr := uint32(rng.Uint32N(1 << 20))
		for range 2000 {
			bits := 16 + rng.IntN(17)
			size := uint32(1) << (32 - bits)
			addr = (addr + size - 1) / size * size // align
			if rng.IntN(4) == 0 {
				addr += size // leave a gap
			}
			p := geo.Point{Lat: float64(rng.IntN(3) * 40), Lon: float64(rng.IntN(5)*60 - 120)}
			a := netip.AddrFrom4([4]byte{byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)})
			nets = append(nets, Network{Prefix: netip.PrefixFrom(a, bits), Point: p, Known: rng.IntN(10) > 0})
			addr += size
		}
		merged := Merge(nets, o)
		checkCover(t, merged)
		for _, n := range nets {
			want := Unknown
			if n.Known {
				want = o.Of(n.Point)
			}
			for _, a := range []netip.Addr{n.Prefix.Addr(), lastAddr(n.Prefix)} {
				got := Lookup(merged, a)
				if got.Order != want || !got.Prefix.Contains(a) || got.Prefix.Bits() > n.Prefix.Bits() {
					t.Fatalf("round %d: %s in %s of order %d: widened %v", round, a, n.Prefix, want, got)
				}
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	x := v4(p.Masked().Addr()) | (1<<(32-p.Bits()) - 1)
	return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
}

func TestHistogram(t *testing.T) {
	if got, want := Histogram([]int{0, 3, 8, 16, 24, 24, 32}), "/0-/4: 2  /5-/8: 1  /13-/16: 1  /21-/24: 2  /29-/32: 1"; got != want {
		t.Errorf("Histogram = %q, want %q", got, want)
	}
}

// TestOrdersLimit: over a grid of places, the first location alone gives
// at most one order per location, and each longer limit more orders.
func TestOrdersLimit(t *testing.T) {
	three := []geo.Point{west, east, {Lat: 50, Lon: 0}}
	var counts []int
	for _, limit := range []int{1, 2, 3} {
		o := NewOrders(three, limit)
		for lat := -80; lat <= 80; lat += 10 {
			for lon := -170; lon <= 170; lon += 10 {
				o.Of(geo.Point{Lat: float64(lat), Lon: float64(lon)})
			}
		}
		counts = append(counts, o.Len())
	}
	if counts[0] != 3 || counts[1] <= counts[0] || counts[2] < counts[1] {
		t.Errorf("orders of limits 1, 2, 3 over the grid: %v, want 3 and then more", counts)
	}
}

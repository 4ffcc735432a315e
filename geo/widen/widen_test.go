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
		got, ok := merged.Lookup(netip.MustParseAddr(tc.addr))
		if !ok || got.Prefix.String() != tc.want || got.Order != tc.order {
			t.Errorf("Lookup(%s) = %v, want %s order %d", tc.addr, got, tc.want, tc.order)
		}
	}
	checkCover(t, merged)
}

// checkCover checks that merged covers the IPv4 space and the IPv6 space
// in address order, without gaps or overlaps, and that no two siblings of
// one order are left (opaque ones aside).
func checkCover(t *testing.T, merged *Table) {
	t.Helper()
	var prev Merged
	next, end, width := u128{}, false, 32
	for m := range merged.All() {
		if m.Prefix.Addr().Is6() && width == 32 {
			if !end {
				t.Fatalf("the IPv4 networks end at %v", next)
			}
			next, end, width, prev = u128{}, false, 128, Merged{}
		}
		start := number(m.Prefix.Addr())
		if end || start != next || m.Prefix.Masked() != m.Prefix {
			t.Fatalf("network %s: starts at %v, want %v", m.Prefix, start, next)
		}
		mg := merger{width: width}
		mg.advance(start, width-m.Prefix.Bits())
		next, end = mg.next, mg.end
		if prev.Prefix.IsValid() && prev.Order == m.Order && m.Order != opaque && prev.Prefix.Bits() == m.Prefix.Bits() && m.Prefix.Bits() > 0 {
			parent, _ := m.Prefix.Addr().Prefix(m.Prefix.Bits() - 1)
			if parent.Addr() == prev.Prefix.Addr() {
				t.Fatalf("siblings %s and %s of one order not merged", prev.Prefix, m.Prefix)
			}
		}
		prev = m
	}
	if width != 128 || !end {
		t.Fatalf("the networks end at %v (width %d)", next, width)
	}
}

// TestMerge6: IPv6 networks merge as IPv4 ones do; the space between them
// is opaque (the database's walk leaves out only its aliases of IPv4), so
// Lookup finds no network there and nothing merges with it.
func TestMerge6(t *testing.T) {
	o := NewOrders(locs, 0)
	merged := Merge([]Network{
		net4("10.0.0.0/24", geo.Point{Lat: 1, Lon: -50}),
		net4("2001:db8::/33", geo.Point{Lat: 1, Lon: -50}),
		net4("2001:db8:8000::/33", geo.Point{Lat: 2, Lon: -40}), // the same order: 2001:db8::/32
		net4("2001:db9::/32", geo.Point{Lat: 0, Lon: 50}),
		{Prefix: netip.MustParsePrefix("2001:dba::/32")}, // no place
		{Prefix: netip.MustParsePrefix("2001:dbb::/32")}, // no data: the same
		net4("2001:dbc::/64", geo.Point{Lat: 0, Lon: 50}),
		net4("2001:dbc:0:1::/64", geo.Point{Lat: 0, Lon: 55}),
		net4("2001:dbc:0:2::/64", geo.Point{Lat: 0, Lon: -55}),
	}, o)
	for _, tc := range []struct {
		addr, want string
		order      int32
	}{
		{"2001:db8::1", "2001:db8::/32", o.Of(west)},
		{"2001:db8:ffff::1", "2001:db8::/32", o.Of(west)},
		{"2001:db9:1::", "2001:db9::/32", o.Of(east)},
		{"2001:dba:5::", "2001:dba::/31", Unknown},
		{"2001:dbc::", "2001:dbc::/63", o.Of(east)},
		{"2001:dbc:0:1:ffff::", "2001:dbc::/63", o.Of(east)},
		{"2001:dbc:0:2::", "2001:dbc:0:2::/64", o.Of(west)},
		{"10.0.0.1", "10.0.0.0/24", o.Of(west)},
		{"::ffff:10.0.0.1", "10.0.0.0/24", o.Of(west)},
	} {
		got, ok := merged.Lookup(netip.MustParseAddr(tc.addr))
		if !ok || got.Prefix.String() != tc.want || got.Order != tc.order {
			t.Errorf("Lookup(%s) = %v %v, want %s order %d", tc.addr, got, ok, tc.want, tc.order)
		}
	}
	for _, a := range []string{"::", "2001:db7:ffff::", "2001:dbc:0:3::", "2002:a00::", "ffff::1"} {
		if got, ok := merged.Lookup(netip.MustParseAddr(a)); ok {
			t.Errorf("Lookup(%s) = %v, want none (opaque)", a, got)
		}
	}
	checkCover(t, merged)
	if _, v6 := merged.Len(); v6 == 0 {
		t.Error("no IPv6 network")
	}
}

// TestMergeRandom: for random databases, every client's widened network
// holds only clients of its own order.
func TestMergeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 20 {
		o := NewOrders([]geo.Point{west, east, {Lat: 50, Lon: 0}}, 1+round%3)
		var nets []Network
		// IPv4 networks of /16-/32, then IPv6 ones of /32-/64 in the
		// high bits, from a random start.
		// span: the bits the addresses are drawn in (IPv6: the high 64).
		for _, family := range []struct{ width, span, min int }{{32, 32, 16}, {128, 64, 32}} {
			addr := uint64(rng.Uint32N(1<<20)) << (family.span - 32)
			for range 2000 {
				bits := family.min + rng.IntN(17)
				size := uint64(1) << (family.span - bits)
				addr = (addr + size - 1) / size * size // align
				if rng.IntN(4) == 0 {
					addr += size // leave a gap
				}
				p := geo.Point{Lat: float64(rng.IntN(3) * 40), Lon: float64(rng.IntN(5)*60 - 120)}
				a := u128{lo: addr}
				if family.width == 128 {
					a = u128{hi: addr}
				}
				nets = append(nets, Network{Prefix: netip.PrefixFrom(a.addr(family.width), bits), Point: p, Known: rng.IntN(10) > 0})
				addr += size
			}
		}
		merged := Merge(nets, o)
		checkCover(t, merged)
		for _, n := range nets {
			want := Unknown
			if n.Known {
				want = o.Of(n.Point)
			}
			for _, a := range []netip.Addr{n.Prefix.Addr(), lastAddr(n.Prefix)} {
				got, ok := merged.Lookup(a)
				if !ok || got.Order != want || !got.Prefix.Contains(a) || got.Prefix.Bits() > n.Prefix.Bits() {
					t.Fatalf("round %d: %s in %s of order %d: widened %v %v", round, a, n.Prefix, want, got, ok)
				}
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	width := p.Addr().BitLen()
	x := number(p.Masked().Addr())
	ones := pow2(width - p.Bits()).sub(u128{lo: 1})
	return u128{x.hi | ones.hi, x.lo | ones.lo}.addr(width)
}

func TestHistogram(t *testing.T) {
	if got, want := Histogram([]int{0, 3, 8, 16, 24, 24, 32, 56}), "/0-/4: 2  /5-/8: 1  /13-/16: 1  /21-/24: 2  /29-/32: 1  /53-/56: 1"; got != want {
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

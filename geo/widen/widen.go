// Package widen computes wider ECS scopes (issue 15, item 3): for a GeoIP
// database and the federation's distinct locations, the widest network
// around each client in which every client sees the locations in the same
// order by distance, as gdnsd's automatic maps do. An answer that depends
// only on that order is the same for every client of the widened network,
// so its ECS scope may be that network's prefix length rather than the
// database network's: fewer, wider cache entries in resolvers, fewer
// queries reaching the server.
//
// It covers IPv4 (IPv6 clients keep the database's networks). Build is
// the geo.Widener the plugin gives its Locator.
package widen

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-dns/meridian/geo"
)

// Network is one network of the database and where its clients are.
type Network = geo.Network

// Build is a geo.Widener: the table of widened IPv4 scopes of the
// locations locs over the database networks nets (in address order), by
// the whole order of the locations, so that it holds whichever of them an
// answer reaches.
func Build(locs []geo.Point, nets iter.Seq[geo.Network]) geo.ScopeTable {
	return Table(mergeSeq(nets, NewOrders(locs, 0)))
}

// Table is a widened table as Merge returns it, as a geo.ScopeTable.
type Table []Merged

// Widen implements geo.ScopeTable for IPv4 addresses.
func (t Table) Widen(a netip.Addr) (netip.Prefix, bool) {
	if !a.Unmap().Is4() || len(t) == 0 {
		return netip.Prefix{}, false
	}
	return Lookup(t, a).Prefix, true
}

// Merged is a network of the widened table and the order its clients see.
type Merged struct {
	Prefix netip.Prefix
	// Order identifies the order of the locations by distance; Unknown
	// is the order of clients of no known place (the address space no
	// database network covers included).
	Order int32
}

// Unknown is the Order of clients with no known place.
const Unknown int32 = -1

// Orders names the orders of locs by distance: each distinct order gets
// an id, from 0, in the order they are first seen. With a limit, only the
// first limit locations of an order count, as gdnsd's auto_dc_limit (3 by
// default): the widened scope then holds while fewer than limit of a
// client's nearest locations are unusable.
type Orders struct {
	limit int
	locs  []geo.Vec3
	ids   map[string]int32
	key   []byte
	idx   []int
	dist  []float64
}

// NewOrders returns the orders of the locations locs, of their first
// limit locations (0: all).
func NewOrders(locs []geo.Point, limit int) *Orders {
	if limit <= 0 || limit > len(locs) {
		limit = len(locs)
	}
	o := &Orders{limit: limit, ids: map[string]int32{}, idx: make([]int, len(locs)), dist: make([]float64, len(locs))}
	for _, p := range locs {
		o.locs = append(o.locs, p.Vector())
	}
	return o
}

// Of returns the id of the order of the locations by distance from p,
// nearest first (equal distances by index).
func (o *Orders) Of(p geo.Point) int32 {
	v := p.Vector()
	for i := range o.idx {
		o.idx[i] = i
		o.dist[i] = geo.Chord2(v, o.locs[i])
	}
	slices.SortStableFunc(o.idx, func(a, b int) int {
		switch {
		case o.dist[a] < o.dist[b]:
			return -1
		case o.dist[a] > o.dist[b]:
			return 1
		}
		return 0
	})
	o.key = o.key[:0]
	for _, i := range o.idx[:o.limit] {
		o.key = binary.AppendUvarint(o.key, uint64(i))
	}
	id, ok := o.ids[string(o.key)]
	if !ok {
		id = int32(len(o.ids))
		o.ids[string(o.key)] = id
	}
	return id
}

// Len returns how many distinct orders were seen.
func (o *Orders) Len() int { return len(o.ids) }

// Merge widens the IPv4 networks nets, given in address order and not
// overlapping, as Networks of a MaxMind database walks them: it returns
// the networks of the whole IPv4 space, in address order, each the widest
// aligned network whose clients all see one order (the space between
// database networks counts as Unknown). Two sibling networks of one order
// become their parent, up the prefix tree.
func Merge(nets []Network, o *Orders) []Merged {
	return mergeSeq(slices.Values(nets), o)
}

// mergeSeq is Merge over a sequence, holding only the widened networks.
func mergeSeq(nets iter.Seq[Network], o *Orders) []Merged {
	var m merger
	next := uint64(0) // the first address not covered yet
	for n := range nets {
		if !n.Prefix.Addr().Is4() {
			continue
		}
		start := uint64(v4(n.Prefix.Masked().Addr()))
		if start < next {
			continue // overlapping: the database's networks do not overlap
		}
		m.fill(next, start)
		order := Unknown
		if n.Known {
			order = o.Of(n.Point)
		}
		m.push(uint32(start), n.Prefix.Bits(), order)
		next = start + 1<<(32-n.Prefix.Bits())
	}
	m.fill(next, 1<<32)
	out := make([]Merged, len(m.stack))
	for i, e := range m.stack {
		out[i] = Merged{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, e.addr))), e.bits), Order: e.order}
	}
	return out
}

// entry is a network on the merger's stack.
type entry struct {
	addr  uint32
	bits  int
	order int32
}

// merger keeps the widened networks so far, in address order; the last
// ones may still merge with what comes next.
type merger struct{ stack []entry }

// push adds the network addr/bits of order, merging it with its sibling
// (the network before it, of the same length and order) up the tree.
func (m *merger) push(addr uint32, n int, order int32) {
	for n > 0 && len(m.stack) > 0 {
		top := m.stack[len(m.stack)-1]
		size := uint32(1) << (32 - n)
		if top.bits != n || top.order != order || addr&size == 0 || top.addr != addr-size {
			break
		}
		m.stack = m.stack[:len(m.stack)-1]
		addr, n = top.addr, n-1
	}
	m.stack = append(m.stack, entry{addr, n, order})
}

// fill covers [from, to) with Unknown networks, the largest aligned
// blocks first.
func (m *merger) fill(from, to uint64) {
	for from < to {
		// The largest block aligned at from that fits before to.
		size := uint64(1) << 32
		if from != 0 {
			size = uint64(1) << bits.TrailingZeros64(from)
		}
		for size > to-from {
			size >>= 1
		}
		m.push(uint32(from), 32-bits.TrailingZeros64(size), Unknown)
		from += size
	}
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// Lookup returns the widened network that holds a (IPv4), from merged as
// Merge returns it.
func Lookup(merged []Merged, a netip.Addr) Merged {
	x := v4(a.Unmap())
	i, _ := slices.BinarySearchFunc(merged, x, func(m Merged, x uint32) int {
		start := v4(m.Prefix.Addr())
		switch {
		case start > x:
			return 1
		case uint64(start)+1<<(32-m.Prefix.Bits()) <= uint64(x):
			return -1
		}
		return 0
	})
	return merged[min(i, len(merged)-1)]
}

// Histogram counts prefix lengths in buckets of four (/0-/4 ... /29-/32)
// and formats them.
func Histogram(lengths []int) string {
	var counts [9]int
	for _, l := range lengths {
		counts[min((max(l, 1)-1)/4, 8)]++
	}
	var b strings.Builder
	for i, c := range counts {
		if c == 0 {
			continue
		}
		lo, hi := i*4+1, i*4+4
		if i == 0 {
			lo = 0
		}
		b.WriteString("/" + strconv.Itoa(lo) + "-/" + strconv.Itoa(min(hi, 32)) + ": " + strconv.Itoa(c) + "  ")
	}
	return strings.TrimSpace(b.String())
}

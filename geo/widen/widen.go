// Package widen computes wider ECS scopes (issue 15, item 3): for a GeoIP
// database and the federation's distinct locations, the widest network
// around each client in which every client sees the locations in the same
// order by distance, as gdnsd's automatic maps do. An answer that depends
// only on that order is the same for every client of the widened network,
// so its ECS scope may be that network's prefix length rather than the
// database network's: fewer, wider cache entries in resolvers, fewer
// queries reaching the server.
//
// It covers IPv4 and IPv6. In IPv6, the space the database's walk does
// not cover (its aliases of the IPv4 subtree: IPv4-mapped, 6to4, Teredo)
// is opaque: clients there keep the database's networks. Build is the
// geo.Widener the plugin gives its Locator.
package widen

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/meridian-dns/meridian/geo"
)

// Network is one network of the database and where its clients are.
type Network = geo.Network

// Build is a geo.Widener: the table of widened scopes of the locations
// locs over the database networks nets (in address order), by the whole
// order of the locations, so that it holds whichever of them an answer
// reaches.
func Build(locs []geo.Point, nets iter.Seq[geo.Network]) geo.ScopeTable {
	return mergeSeq(nets, NewOrders(locs, 0))
}

// Merged is a network of the widened table and the order its clients see.
type Merged struct {
	Prefix netip.Prefix
	// Order identifies the order of the locations by distance; Unknown
	// is the order of clients of no known place (the IPv4 space no
	// database network covers included).
	Order int32
}

// Unknown is the Order of clients with no known place.
const Unknown int32 = -1

// opaque is the order of IPv6 space the database's walk does not cover:
// it never merges, and Lookup reports no network there.
const opaque int32 = -2

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

// Merge widens the networks nets, given in address order and not
// overlapping, as Networks of a MaxMind database walks them (IPv4 as
// IPv4 addresses): the table of the whole IPv4 and IPv6 spaces, each
// network the widest aligned one whose clients all see one order. The
// IPv4 space between database networks counts as Unknown; the IPv6 space
// between them as opaque. Two sibling networks of one order become their
// parent, up the prefix tree.
func Merge(nets []Network, o *Orders) *Table {
	return mergeSeq(slices.Values(nets), o)
}

// mergeSeq is Merge over a sequence, holding only the widened networks.
func mergeSeq(nets iter.Seq[Network], o *Orders) *Table {
	m4 := merger{width: 32, gap: Unknown}
	m6 := merger{width: 128, gap: opaque}
	for n := range nets {
		m := &m6
		if n.Prefix.Addr().Is4() {
			m = &m4
		}
		order := Unknown
		if n.Known {
			order = o.Of(n.Point)
		}
		m.add(n.Prefix, order)
	}
	m4.fillToEnd()
	m6.fillToEnd()
	t := &Table{v4: make([]entry4, len(m4.stack)), v6: m6.stack}
	for i, e := range m4.stack {
		t.v4[i] = entry4{start: uint32(e.start.lo), bits: e.bits, order: e.order}
	}
	return t
}

// Table is the widened table of both families, in address order: a
// geo.ScopeTable.
type Table struct {
	v4 []entry4
	v6 []entry
}

// entry4 is an IPv4 network of the table, in half an entry's memory.
type entry4 struct {
	start uint32
	bits  uint8
	order int32
}

// Widen implements geo.ScopeTable.
func (t *Table) Widen(a netip.Addr) (netip.Prefix, bool) {
	m, ok := t.Lookup(a)
	return m.Prefix, ok
}

// Lookup returns the widened network that holds a; ok is false in opaque
// IPv6 space.
func (t *Table) Lookup(a netip.Addr) (m Merged, ok bool) {
	a = a.Unmap()
	var e entry
	if a.Is4() {
		x := uint32(number(a).lo)
		i := sort.Search(len(t.v4), func(i int) bool { return t.v4[i].start > x }) - 1
		if i < 0 {
			return Merged{}, false
		}
		e = entry{start: u128{lo: uint64(t.v4[i].start)}, bits: t.v4[i].bits, order: t.v4[i].order}
		return e.merged(32), true
	}
	x := number(a)
	i := sort.Search(len(t.v6), func(i int) bool { return t.v6[i].start.cmp(x) > 0 }) - 1
	if i < 0 || t.v6[i].order == opaque {
		return Merged{}, false
	}
	return t.v6[i].merged(128), true
}

// All yields the table's networks, IPv4 then IPv6, opaque ones with
// Order opaque.
func (t *Table) All() iter.Seq[Merged] {
	return func(yield func(Merged) bool) {
		for _, e := range t.v4 {
			if !yield(entry{start: u128{lo: uint64(e.start)}, bits: e.bits, order: e.order}.merged(32)) {
				return
			}
		}
		for _, e := range t.v6 {
			if !yield(e.merged(128)) {
				return
			}
		}
	}
}

// Len returns how many networks the table holds, IPv4 and IPv6.
func (t *Table) Len() (v4, v6 int) { return len(t.v4), len(t.v6) }

// entry is a network of the merger (and of the table's IPv6 part): its
// first address as a number, its length and its order.
type entry struct {
	start u128
	bits  uint8
	order int32
}

func (e entry) merged(width int) Merged {
	return Merged{Prefix: netip.PrefixFrom(e.start.addr(width), int(e.bits)), Order: e.order}
}

// merger widens the networks of one family (width bits), given in
// address order: stack holds the widened networks so far; the last ones
// may still merge with what comes next.
type merger struct {
	width int
	gap   int32 // the order of space no network covers
	next  u128  // the first address not covered yet
	end   bool  // the whole space is covered
	stack []entry
}

// add adds the network p of order, after filling the space before it.
// An overlapping network is skipped: a database's do not overlap.
func (m *merger) add(p netip.Prefix, order int32) {
	start := number(p.Masked().Addr())
	if m.end || start.cmp(m.next) < 0 {
		return
	}
	m.fill(start)
	m.push(start, p.Bits(), order)
	m.advance(start, m.width-p.Bits())
}

// advance moves next past the block of 2^k addresses at a.
func (m *merger) advance(a u128, k int) {
	if k >= 128 {
		m.end = true
		return
	}
	next, carry := a.add(pow2(k))
	m.next, m.end = next, carry || (m.width < 128 && next == pow2(m.width))
}

// fill covers [next, to) with networks of the gap order, the largest
// aligned blocks first.
func (m *merger) fill(to u128) {
	for !m.end && m.next.cmp(to) < 0 {
		k := min(m.next.tz(), m.width)
		for k >= 128 || pow2(k).cmp(to.sub(m.next)) > 0 {
			k--
		}
		m.push(m.next, m.width-k, m.gap)
		m.advance(m.next, k)
	}
}

// fillToEnd covers the rest of the space with networks of the gap order.
func (m *merger) fillToEnd() {
	for !m.end {
		k := min(m.next.tz(), m.width)
		m.push(m.next, m.width-k, m.gap)
		m.advance(m.next, k)
	}
}

// push adds the network at start of n bits and order, merging it with its
// sibling (the network before it, of the same length and order) up the
// tree. Opaque networks never merge.
func (m *merger) push(start u128, n int, order int32) {
	for n > 0 && order != opaque && len(m.stack) > 0 {
		top := m.stack[len(m.stack)-1]
		size := pow2(m.width - n)
		if int(top.bits) != n || top.order != order || start.and(size).isZero() || top.start != start.sub(size) {
			break
		}
		m.stack = m.stack[:len(m.stack)-1]
		start, n = top.start, n-1
	}
	m.stack = append(m.stack, entry{start: start, bits: uint8(n), order: order})
}

// u128 is an address as a number; an IPv4 address is in the low 32 bits.
type u128 struct{ hi, lo uint64 }

// number returns a as a u128.
func number(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// addr returns x as an address of width bits (32: IPv4).
func (x u128) addr(width int) netip.Addr {
	if width == 32 {
		return netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, uint32(x.lo))))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], x.hi)
	binary.BigEndian.PutUint64(b[8:], x.lo)
	return netip.AddrFrom16(b)
}

// pow2 returns 2^k, k < 128.
func pow2(k int) u128 {
	if k < 64 {
		return u128{lo: 1 << k}
	}
	return u128{hi: 1 << (k - 64)}
}

func (x u128) add(y u128) (u128, bool) {
	lo, c := bits.Add64(x.lo, y.lo, 0)
	hi, c := bits.Add64(x.hi, y.hi, c)
	return u128{hi, lo}, c != 0
}

func (x u128) sub(y u128) u128 {
	lo, b := bits.Sub64(x.lo, y.lo, 0)
	hi, _ := bits.Sub64(x.hi, y.hi, b)
	return u128{hi, lo}
}

func (x u128) and(y u128) u128 { return u128{x.hi & y.hi, x.lo & y.lo} }

func (x u128) isZero() bool { return x == u128{} }

func (x u128) cmp(y u128) int {
	if x.hi != y.hi {
		if x.hi < y.hi {
			return -1
		}
		return 1
	}
	switch {
	case x.lo < y.lo:
		return -1
	case x.lo > y.lo:
		return 1
	}
	return 0
}

// tz returns the number of trailing zero bits of x, 128 for zero.
func (x u128) tz() int {
	if x.lo != 0 {
		return bits.TrailingZeros64(x.lo)
	}
	if x.hi != 0 {
		return 64 + bits.TrailingZeros64(x.hi)
	}
	return 128
}

// Histogram counts prefix lengths in buckets of four (/0-/4, /5-/8, ...,
// up to /128) and formats the buckets that hold any.
func Histogram(lengths []int) string {
	var counts [32]int
	for _, l := range lengths {
		counts[min((max(l, 1)-1)/4, 31)]++
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
		b.WriteString("/" + strconv.Itoa(lo) + "-/" + strconv.Itoa(hi) + ": " + strconv.Itoa(c) + "  ")
	}
	return strings.TrimSpace(b.String())
}

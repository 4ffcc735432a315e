package e2e

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/miekg/dns"
)

// fuzzCorpus is the valid queries the packet fuzz mutates: the fast path
// test's (every level of the demo zone and its hosts, A, AAAA, TXT, SRV,
// CNAME, ANY, MX, NS, SOA, with and without EDNS and DO, client subnets
// of both families, cookies, padding) without its own malformed tenth,
// plus the resolver's kube-dns form and a query of every other class.
func fuzzCorpus(r *rand.Rand) [][]byte {
	var out [][]byte
	for _, p := range fastPathCorpus(r) {
		if new(dns.Msg).Unpack(p) == nil {
			out = append(out, p)
		}
	}
	for _, q := range []struct {
		name  string
		class uint16
	}{{"nginx.default.myfederation.svc.cluster.local.", dns.ClassINET}, {"example.com.", dns.ClassCHAOS},
		{"example.com.", dns.ClassANY}, {"version.bind.", dns.ClassCHAOS}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, dns.TypeA)
		m.Question[0].Qclass = q.class
		if b, err := m.Pack(); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// mutators turn a valid query into a hostile one. Each takes the query (a
// copy it may change) and returns the packet.
var mutators = []struct {
	name string
	f    func(r *rand.Rand, b []byte) []byte
}{
	{"bit flips", flipBits},
	{"truncated", func(r *rand.Rand, b []byte) []byte { return b[:r.IntN(len(b))] }},
	{"random tail", func(r *rand.Rand, b []byte) []byte {
		return append(b[:12+r.IntN(len(b)-11)], randomBytes(r, r.IntN(600))...)
	}},
	{"garbage labels", garbageLabels},
	{"pointer loop", pointerLoop},
	{"lying counts", lyingCounts},
	{"huge OPT", hugeOPT},
	{"header flags", headerFlags},
	{"bad ECS", badECS},
	{"random bytes", func(r *rand.Rand, _ []byte) []byte { return randomBytes(r, r.IntN(700)) }},
}

// stacked applies two to four of the mutators before it (not random
// bytes), one after the other.
func stacked(r *rand.Rand, b []byte) []byte {
	for range 2 + r.IntN(3) {
		b = mutators[r.IntN(9)].f(r, b)
		if len(b) < 12 {
			break
		}
	}
	return b
}

func init() {
	mutators = append(mutators, struct {
		name string
		f    func(r *rand.Rand, b []byte) []byte
	}{"stacked", stacked})
}

// mutate returns a hostile packet made from one of corpus's queries.
func mutate(r *rand.Rand, corpus [][]byte) []byte {
	b := append([]byte(nil), corpus[r.IntN(len(corpus))]...)
	return mutators[r.IntN(len(mutators))].f(r, b)
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// flipBits flips one to eight bits, anywhere.
func flipBits(r *rand.Rand, b []byte) []byte {
	for range 1 + r.IntN(8) {
		b[r.IntN(len(b))] ^= 1 << r.IntN(8)
	}
	return b
}

// garbageLabels replaces the question name with random labels: lengths
// past 63, names past 255, bytes of every value, the 0x40 and 0x80
// label types, no terminating zero.
func garbageLabels(r *rand.Rand, b []byte) []byte {
	end := qnameEnd(b)
	var name []byte
	for range 1 + r.IntN(40) {
		n := r.IntN(70)
		if r.IntN(10) == 0 {
			n = 0x40 | r.IntN(0x40) // extended or reserved label types
		}
		name = append(name, byte(n))
		name = append(name, randomBytes(r, min(n, 63))...)
	}
	if r.IntN(4) != 0 {
		name = append(name, 0)
	}
	return append(append(b[:12:12], name...), b[end:]...)
}

// pointerLoop makes the question name, or the OPT owner, a compression
// pointer to itself, or two pointers that point at each other, or one
// that points forward or past the end.
func pointerLoop(r *rand.Rand, b []byte) []byte {
	at := 12
	if r.IntN(3) == 0 {
		at = len(b) - 11 // where an OPT record's owner sits when it is last
		if at < 12 || b[at] != 0 {
			at = 12
		}
	}
	var ptr []byte
	switch r.IntN(4) {
	case 0: // to itself
		ptr = []byte{0xc0 | byte(at>>8), byte(at)}
	case 1: // a label, then a pointer back to its start
		ptr = []byte{1, 'a', 0xc0 | byte(at>>8), byte(at)}
	case 2: // past the end
		ptr = []byte{0xff, 0xff}
	default: // forward, to a second pointer that points back
		ptr = []byte{0xc0, byte(at + 2), 0xc0, byte(at)}
	}
	rest := b[min(qnameEnd(b), len(b)):]
	if at != 12 {
		rest = b[at+1:]
		return append(append(b[:at:at], ptr...), rest...)
	}
	return append(append(b[:12:12], ptr...), rest...)
}

// lyingCounts sets one to four of the section counts to random values.
func lyingCounts(r *rand.Rand, b []byte) []byte {
	for range 1 + r.IntN(4) {
		i := 4 + 2*r.IntN(4)
		v := []uint16{0, 1, 2, 3, 0xff, 0xffff, uint16(r.Uint32())}[r.IntN(7)]
		binary.BigEndian.PutUint16(b[i:], v)
	}
	return b
}

// hugeOPT appends an OPT record whose data or option lengths lie, or one
// of tens of options, or a second OPT, or a 64 KB payload claim.
func hugeOPT(r *rand.Rand, b []byte) []byte {
	ar := binary.BigEndian.Uint16(b[10:])
	opt := []byte{0, 0, 41, 0xff, 0xff, 0, 0, 0, 0}
	var data []byte
	switch r.IntN(4) {
	case 0: // RDLENGTH past the end
		data = []byte{0xff, 0xff, 0, 12, 0, 4}
		opt = append(opt, data...)
		data = nil
	case 1: // an option whose length passes RDLENGTH
		data = []byte{0, 10, 0xff, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}
	case 2: // many options, some unknown, some padding
		for range 10 + r.IntN(200) {
			n := r.IntN(20)
			data = append(data, byte(r.IntN(20)), byte(r.Uint32()), 0, byte(n))
			data = append(data, randomBytes(r, n)...)
		}
	default: // padding to a few KB, one time in eight to near 64 KB
		n := 1000 + r.IntN(4000)
		if r.IntN(8) == 0 {
			n = 5000 + r.IntN(60000)
		}
		data = append([]byte{0, 12, byte(n >> 8), byte(n)}, make([]byte, n)...)
	}
	if data != nil {
		opt = append(opt, byte(len(data)>>8), byte(len(data)))
		opt = append(opt, data...)
	}
	binary.BigEndian.PutUint16(b[10:], ar+1)
	return append(b, opt...)
}

// headerFlags sets the opcode, QR, AA, TC, Z, AD, CD and the rcode at
// random.
func headerFlags(r *rand.Rand, b []byte) []byte {
	b[2] = byte(r.Uint32())
	b[3] = byte(r.Uint32())
	return b
}

// badECS appends an OPT record with a client-subnet option that is wrong:
// an unknown family, a source prefix longer than the family, an address
// longer or shorter than the prefix needs, bits set past the prefix, a
// scope in a query, or the option twice.
func badECS(r *rand.Rand, b []byte) []byte {
	fam := []uint16{0, 1, 2, 3, 0xffff}[r.IntN(5)]
	src := []byte{0, 8, 24, 25, 32, 33, 56, 128, 129, 255}[r.IntN(10)]
	addr := randomBytes(r, r.IntN(20))
	ecs := binary.BigEndian.AppendUint16(nil, fam)
	ecs = append(ecs, src, byte(r.IntN(3)*24))
	ecs = append(ecs, addr...)
	opt := binary.BigEndian.AppendUint16(nil, dns.EDNS0SUBNET)
	opt = binary.BigEndian.AppendUint16(opt, uint16(len(ecs)))
	opt = append(opt, ecs...)
	if r.IntN(4) == 0 {
		opt = append(opt, opt...)
	}
	rr := []byte{0, 0, 41, 4, 0xd0, 0, 0, 0, 0}
	rr = binary.BigEndian.AppendUint16(rr, uint16(len(opt)))
	if ar := binary.BigEndian.Uint16(b[10:]); ar == 0 || r.IntN(3) == 0 {
		binary.BigEndian.PutUint16(b[10:], ar+1)
	} else {
		b = b[:len(b)-lastOPTLen(b)] // replace the query's own OPT
	}
	return append(append(b, rr...), opt...)
}

// lastOPTLen is the length of the OPT record that ends b, if b parses and
// ends with one; else 0.
func lastOPTLen(b []byte) int {
	m := new(dns.Msg)
	if m.Unpack(b) != nil || len(m.Extra) == 0 {
		return 0
	}
	o, ok := m.Extra[len(m.Extra)-1].(*dns.OPT)
	if !ok {
		return 0
	}
	return dns.Len(o)
}

// qnameEnd returns the offset after the first question's name (its
// terminating zero, or a pointer), or len(b).
func qnameEnd(b []byte) int {
	i := 12
	for i < len(b) {
		switch n := int(b[i]); {
		case n == 0:
			return i + 1
		case n&0xc0 == 0xc0:
			return min(i+2, len(b))
		default:
			i += n + 1
		}
	}
	return len(b)
}

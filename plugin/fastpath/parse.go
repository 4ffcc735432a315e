// Package fastpath will be Meridian's batched UDP fast path (issue 15):
// sockets that read and answer the common query straight from the wire,
// and hand every other packet to the ordinary CoreDNS chain unchanged.
// This first part is the wire parser: Parse reads a query packet without
// allocating and says whether it is one the fast path may answer; a
// packet it refuses goes through the chain, byte for byte as today.
package fastpath

import (
	"encoding/binary"
	"net/netip"
)

// Query is what the fast path reads of a query packet. Parse fills it;
// Name is lower-cased into the caller's buffer.
type Query struct {
	ID uint16
	// RD and CD are the query's flags that a reply echoes.
	RD, CD bool
	// Name is the question name in presentation form, fully qualified and
	// lower case ("svc.ns.fed.svc.example.com."), written into the buffer
	// given to Parse.
	Name   []byte
	Qtype  uint16
	Qclass uint16
	// QEnd is where the question ends in the packet: a reply copies
	// packet[12:QEnd] as its question.
	QEnd int
	// EDNS is true when the query has an OPT record; UDPSize and DO are
	// its payload size and DNSSEC OK bit.
	EDNS    bool
	UDPSize uint16
	DO      bool
	// ECS is true when the OPT record has a client-subnet option with an
	// address; Client is its source network (masked, as RFC 7871 requires
	// of the sender). An option of family 0 (no address) leaves ECS false
	// with ECSFamily0 true.
	ECS        bool
	ECSFamily0 bool
	Client     netip.Prefix
}

// Header bits (RFC 1035 4.1.1, RFC 2535 for AD and CD).
const (
	bitQR     = 1 << 15
	maskOp    = 0xf << 11
	bitTC     = 1 << 9
	bitRD     = 1 << 8
	bitZ      = 1 << 6
	bitCD     = 1 << 4
	maskRcode = 0xf
)

const (
	typeOPT    = 41
	optECS     = 8
	optCookie  = 10
	optPadding = 12
	maxNameLen = 255 // wire length, RFC 1035 2.3.4
	// MaxName is the room Parse needs for a name in presentation form.
	MaxName = 254
)

// ChainReadSize is how much of a UDP query the chain reads: miekg/dns's
// default UDPSize (dns.MinMsgSize), which CoreDNS keeps. A longer query is
// cut there by the chain's read and answered FORMERR; Parse refuses it, so
// that the chain does so.
const ChainReadSize = 512

// Parse reads pkt, a query received over UDP, into q, with the name
// written into name (at least MaxName bytes), and reports whether the fast
// path may answer it. It refuses, leaving the packet to the chain, every
// packet it does not read exactly as the chain would: a response, an
// opcode other than QUERY, TC or Z set, a non-zero rcode, other than one
// question, records in the answer or authority section, more than one
// additional record or one that is not an OPT record owned by the root, an
// EDNS version or flag other than DO, an option other than one
// client-subnet option, cookies and padding, a client-subnet option the chain would answer
// with FORMERR or one of an IPv4-mapped IPv6 address, a name with a compression pointer or a byte that
// presentation form escapes, trailing bytes, and a packet longer than
// ChainReadSize. It does not allocate.
func Parse(pkt []byte, q *Query, name []byte) bool {
	if len(pkt) < 12+5 || len(pkt) > ChainReadSize {
		return false
	}
	flags := binary.BigEndian.Uint16(pkt[2:])
	if flags&(bitQR|maskOp|bitTC|bitZ|maskRcode) != 0 {
		return false
	}
	if binary.BigEndian.Uint16(pkt[4:]) != 1 || binary.BigEndian.Uint16(pkt[6:]) != 0 || binary.BigEndian.Uint16(pkt[8:]) != 0 {
		return false
	}
	arcount := binary.BigEndian.Uint16(pkt[10:])
	if arcount > 1 {
		return false
	}
	*q = Query{ID: binary.BigEndian.Uint16(pkt), RD: flags&bitRD != 0, CD: flags&bitCD != 0}
	off, n, ok := readName(pkt, 12, name)
	if !ok || off+4 > len(pkt) {
		return false
	}
	q.Name = name[:n]
	q.Qtype = binary.BigEndian.Uint16(pkt[off:])
	q.Qclass = binary.BigEndian.Uint16(pkt[off+2:])
	off += 4
	q.QEnd = off
	if arcount == 0 {
		return off == len(pkt)
	}
	return readOPT(pkt, off, q)
}

// readName reads the uncompressed name at off into name in presentation
// form, lower case, and returns the offset after it and its length. Only
// letters, digits, '-', '_' and '*' may be in a label: other bytes are
// escaped in presentation form, which the chain's names carry and the
// fast path leaves to it.
func readName(pkt []byte, off int, name []byte) (end, n int, ok bool) {
	wire := 0
	for {
		if off >= len(pkt) {
			return 0, 0, false
		}
		l := int(pkt[off])
		off++
		wire++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(pkt) {
			return 0, 0, false // a pointer (0xc0), a reserved label type, or truncated
		}
		if wire += l; wire+1 > maxNameLen { // +1: the root label that ends it
			return 0, 0, false
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '*':
			default:
				return 0, 0, false
			}
			name[n] = c
			n++
		}
		name[n] = '.'
		n++
		off += l
	}
	if n == 0 { // the root
		name[0] = '.'
		n = 1
	}
	return off, n, true
}

// readOPT reads the one additional record at off, which must be an OPT
// record owned by the root that ends the packet.
func readOPT(pkt []byte, off int, q *Query) bool {
	if off+11 > len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != typeOPT {
		return false
	}
	q.EDNS = true
	q.UDPSize = binary.BigEndian.Uint16(pkt[off+3:])
	// TTL: extended rcode, version, DO and the other flags.
	if pkt[off+5] != 0 || pkt[off+6] != 0 || pkt[off+7]&0x7f != 0 || pkt[off+8] != 0 {
		return false
	}
	q.DO = pkt[off+7]&0x80 != 0
	rdlen := int(binary.BigEndian.Uint16(pkt[off+9:]))
	off += 11
	if off+rdlen != len(pkt) {
		return false
	}
	for off < len(pkt) {
		if off+4 > len(pkt) {
			return false
		}
		code := binary.BigEndian.Uint16(pkt[off:])
		l := int(binary.BigEndian.Uint16(pkt[off+2:]))
		off += 4
		switch {
		case off+l > len(pkt):
			return false
		case code == optCookie || code == optPadding:
			// Neither the chain nor miekg/dns reads them: a cookie
			// (RFC 7873) is ignored by a server without cookies, as
			// Meridian is, and padding (RFC 7830) is padding.
		case code != optECS || q.ECS || q.ECSFamily0 || !readECS(pkt[off:off+l], q):
			return false
		}
		off += l
	}
	return true
}

// readECS reads a client-subnet option (RFC 7871 6): the family, the
// source prefix length, scope 0, and exactly the address bytes the prefix
// needs with no bit set beyond it. Anything else the chain answers with
// FORMERR (dnsmsg.ClientSubnet).
func readECS(b []byte, q *Query) bool {
	if len(b) < 4 || b[3] != 0 {
		return false
	}
	family, bits := binary.BigEndian.Uint16(b), int(b[2])
	addr := b[4:]
	var buf [16]byte
	switch family {
	case 0:
		if bits != 0 || len(addr) != 0 {
			return false
		}
		q.ECSFamily0 = true
		return true
	case 1:
		if bits > 32 {
			return false
		}
	case 2:
		if bits > 128 {
			return false
		}
	default:
		return false
	}
	if len(addr) != (bits+7)/8 {
		return false
	}
	copy(buf[:], addr)
	var a netip.Addr
	if family == 1 {
		a = netip.AddrFrom4([4]byte(buf[:4]))
	} else {
		a = netip.AddrFrom16(buf)
	}
	if a.Is4In6() {
		return false // located as IPv4, scoped in IPv6 bits: the chain's (dnsmsg.ReplyOPT)
	}
	p := netip.PrefixFrom(a, bits)
	if p.Masked().Addr() != a {
		return false // bits set beyond the source prefix
	}
	q.ECS, q.Client = true, p
	return true
}

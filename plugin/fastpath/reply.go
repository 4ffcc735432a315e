package fastpath

import "encoding/binary"

// Records are the answer records of a reply the fast path writes: rdata
// of one type at the question's name, with one TTL. (The answers it
// writes are the chain's common ones: A or AAAA records at a name that
// holds them; every other answer goes through the chain.)
type Records struct {
	Rtype uint16
	TTL   uint32
	// Rdata are the records' data: 4 bytes each for A, 16 for AAAA.
	Rdata [][]byte
	// Scope is the ECS scope of the reply, in the option's family.
	Scope uint8
}

// AppendReply appends to dst the reply to the query pkt (parsed into q
// by Parse, with q.ECSFamily0 false) that holds recs, byte for byte as the
// chain writes it through CoreDNS's ScrubWriter when it fits: an
// authoritative NOERROR with the question copied, each record owned by
// the question's name as asked (uncompressed, as miekg/dns packs a reply
// that fits), and, when the query had EDNS, an OPT record with the
// query's UDP size (request.SizeAndDo), version 0, the DO bit copied and
// the client-subnet option echoed with recs.Scope. It does not allocate
// when dst has room. The caller checks that the reply Fits the query; one
// that does not is the chain's to truncate.
func AppendReply(dst, pkt []byte, q *Query, recs *Records) []byte {
	flags := uint16(bitQR | 1<<10) // QR, AA; opcode QUERY, rcode NOERROR
	if q.RD {
		flags |= bitRD
	}
	if q.CD {
		flags |= bitCD
	}
	var arcount uint16
	if q.EDNS {
		arcount = 1
	}
	dst = binary.BigEndian.AppendUint16(dst, q.ID)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(recs.Rdata)))
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, arcount)
	dst = append(dst, pkt[12:q.QEnd]...)
	owner := pkt[12 : q.QEnd-4]
	for _, rd := range recs.Rdata {
		dst = append(dst, owner...)
		dst = binary.BigEndian.AppendUint16(dst, recs.Rtype)
		dst = binary.BigEndian.AppendUint16(dst, 1) // IN
		dst = binary.BigEndian.AppendUint32(dst, recs.TTL)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(rd)))
		dst = append(dst, rd...)
	}
	if !q.EDNS {
		return dst
	}
	dst = append(dst, 0) // the root
	dst = binary.BigEndian.AppendUint16(dst, typeOPT)
	dst = binary.BigEndian.AppendUint16(dst, q.UDPSize)
	var ttl uint32
	if q.DO {
		ttl = 1 << 15
	}
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	if !q.ECS {
		return binary.BigEndian.AppendUint16(dst, 0)
	}
	addr := q.Client.Addr()
	bits := q.Client.Bits()
	n := (bits + 7) / 8
	family := uint16(1)
	if addr.Is6() {
		family = 2
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(4+4+n))
	dst = binary.BigEndian.AppendUint16(dst, optECS)
	dst = binary.BigEndian.AppendUint16(dst, uint16(4+n))
	dst = binary.BigEndian.AppendUint16(dst, family)
	dst = append(dst, byte(bits), recs.Scope)
	if family == 1 {
		a := addr.As4()
		return append(dst, a[:n]...)
	}
	a := addr.As16()
	return append(dst, a[:n]...)
}

// AppendTruncated appends to dst the reply AppendReply writes for pkt
// with no records and the TC bit set, the ECS scope still scope: what a
// client limited by response rate limiting gets now and then (its slip),
// byte for byte as the chain writes it.
func AppendTruncated(dst, pkt []byte, q *Query, scope uint8) []byte {
	start := len(dst)
	dst = AppendReply(dst, pkt, q, &Records{Scope: scope})
	dst[start+2] |= bitTC >> 8
	return dst
}

// Fits reports whether a reply of n bytes fits the query's buffer, as
// CoreDNS's request.Size counts it: the EDNS UDP size, at least 512, or
// 512 without EDNS.
func Fits(n int, q *Query) bool {
	size := 512
	if q.EDNS {
		size = max(int(q.UDPSize), 512)
	}
	return n <= size
}

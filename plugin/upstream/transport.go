package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// bufPool holds read buffers for UDP replies, as large as a DNS message
// can be, so a server that ignores the advertised payload size cannot cut
// a datagram short. Unpack copies what it keeps, so buffers are reused
// once the reply is parsed.
var bufPool = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// longAgo is a deadline in the past: setting it unblocks reads at once.
var longAgo = time.Unix(1, 0)

// attempt sends wire (req packed) to addr over network and waits for a
// matching reply, until Timeout or ctx ends. wire's ID is overwritten
// with a fresh random one.
func (u *Upstream) attempt(ctx context.Context, network, addr string, wire []byte, req *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	conn, err := u.cfg.Dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	defer stop()

	id := dns.Id()
	binary.BigEndian.PutUint16(wire, id)
	if network == "tcp" {
		err = writeTCP(conn, wire)
	} else {
		_, err = conn.Write(wire)
	}
	if err == nil {
		var r *dns.Msg
		if r, err = readReply(conn, network, id, req); err == nil {
			return r, nil
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil, fmt.Errorf("%w: %w", context.Canceled, err)
	}
	return nil, err
}

// writeTCP writes one length-prefixed message (RFC 1035 section 4.2.2).
func writeTCP(conn net.Conn, wire []byte) error {
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	_, err := conn.Write(out)
	return err
}

// readReply reads until a reply matches id and req. Over UDP it drops
// what does not match or parse and keeps reading; over TCP the first
// reply decides.
func readReply(conn net.Conn, network string, id uint16, req *dns.Msg) (*dns.Msg, error) {
	var (
		dropped int
		last    error
	)
	for {
		r, err := readOne(conn, network)
		if err != nil && !badReply(err) {
			if dropped > 0 {
				return nil, fmt.Errorf("%d bad replies dropped (last: %w), then %w", dropped, last, err)
			}
			return nil, err
		}
		if err == nil {
			if err = check(r, id, req); err == nil {
				return r, nil
			}
		}
		if network == "tcp" {
			return nil, err
		}
		dropped, last = dropped+1, err
	}
}

// readOne reads and parses one message. A parse failure wraps
// ErrMalformed.
func readOne(conn net.Conn, network string) (*dns.Msg, error) {
	var p []byte
	if network == "tcp" {
		var n [2]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return nil, err
		}
		p = make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(conn, p); err != nil {
			return nil, err
		}
	} else {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		n, err := conn.Read(*bp)
		if err != nil {
			return nil, err
		}
		p = (*bp)[:n]
	}
	r := new(dns.Msg)
	if err := r.Unpack(p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return r, nil
}

// check returns nil when r answers req sent under id: see "Matching
// replies" in docs/upstream.md.
func check(r *dns.Msg, id uint16, req *dns.Msg) error {
	switch {
	case !r.Response:
		return fmt.Errorf("%w: not a response", ErrMismatch)
	case r.Id != id:
		return fmt.Errorf("%w: id %d, sent %d", ErrMismatch, r.Id, id)
	case r.Opcode != req.Opcode:
		return fmt.Errorf("%w: opcode %d, sent %d", ErrMismatch, r.Opcode, req.Opcode)
	case len(r.Question) == 0 && r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError:
		// An error reply may leave the question out (RFC 1035 4.1.1).
	case !sameQuestion(r, req):
		return fmt.Errorf("%w: question differs", ErrMismatch)
	}
	if !sameSubnet(subnet(req.IsEdns0()), subnet(r.IsEdns0())) {
		return fmt.Errorf("%w: client subnet differs", ErrMismatch)
	}
	return nil
}

// sameQuestion reports whether r has exactly req's one question, the name
// compared case-insensitively.
func sameQuestion(r, req *dns.Msg) bool {
	if len(r.Question) != 1 {
		return false
	}
	a, b := r.Question[0], req.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}

// subnet returns the client subnet option of opt, or nil.
func subnet(opt *dns.OPT) *dns.EDNS0_SUBNET {
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			return e
		}
	}
	return nil
}

// sameSubnet reports whether a reply's client subnet r may answer a query's
// q: true unless both are present and FAMILY, SOURCE PREFIX-LENGTH or the
// ADDRESS bits within it differ (RFC 7871 section 7.3).
func sameSubnet(q, r *dns.EDNS0_SUBNET) bool {
	if q == nil || r == nil {
		return true
	}
	if q.Family != r.Family || q.SourceNetmask != r.SourceNetmask {
		return false
	}
	return subnetPrefix(q) == subnetPrefix(r)
}

// subnetPrefix is e's ADDRESS cut to its SOURCE PREFIX-LENGTH; the zero
// Prefix for family 0 or an address that does not fit the family.
func subnetPrefix(e *dns.EDNS0_SUBNET) netip.Prefix {
	var (
		addr netip.Addr
		ok   bool
	)
	switch e.Family {
	case 1:
		if ip4 := e.Address.To4(); ip4 != nil {
			addr, ok = netip.AddrFrom4([4]byte(ip4)), true
		}
	case 2:
		addr, ok = netip.AddrFromSlice(e.Address.To16())
	}
	if !ok {
		return netip.Prefix{}
	}
	p, err := addr.Prefix(int(e.SourceNetmask))
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

package dnsmsg

import (
	"errors"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// ECS errors; each makes the reply FORMERR, as RFC 7871 section 7.1.1 asks.
var (
	// errECSCount is a query with more than one client-subnet option.
	errECSCount = errors.New("more than one client subnet option")
	// errECSScope is a query whose SCOPE PREFIX-LENGTH is not zero.
	errECSScope = errors.New("client subnet scope is not zero in a query")
	// errECSAddress is an address with bits set beyond SOURCE PREFIX-LENGTH,
	// or one that does not fit its family.
	errECSAddress = errors.New("client subnet address has bits beyond its prefix")
)

// ClientSubnet returns the client-subnet option of r, if any, and the
// client network it names. The decoder (miekg/dns) has already rejected an
// unknown family and a prefix longer than the family's address.
func ClientSubnet(opt *dns.OPT) (*dns.EDNS0_SUBNET, netip.Prefix, error) {
	if opt == nil {
		return nil, netip.Prefix{}, nil
	}
	var ecs *dns.EDNS0_SUBNET
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		if ecs != nil {
			return nil, netip.Prefix{}, errECSCount
		}
		ecs = e
	}
	if ecs == nil {
		return nil, netip.Prefix{}, nil
	}
	if ecs.SourceScope != 0 {
		return nil, netip.Prefix{}, errECSScope
	}
	p, err := subnetPrefix(ecs)
	return ecs, p, err
}

func subnetPrefix(e *dns.EDNS0_SUBNET) (netip.Prefix, error) {
	var addr netip.Addr
	switch e.Family {
	case 0: // "no address information", sent by dig +subnet=0
		return netip.Prefix{}, nil
	case 1:
		ip4 := e.Address.To4()
		if ip4 == nil {
			return netip.Prefix{}, errECSAddress
		}
		addr = netip.AddrFrom4([4]byte(ip4))
	case 2:
		ip6 := e.Address.To16()
		if ip6 == nil || len(e.Address) != net.IPv6len {
			return netip.Prefix{}, errECSAddress
		}
		addr = netip.AddrFrom16([16]byte(ip6))
	}
	p := netip.PrefixFrom(addr, int(e.SourceNetmask))
	if !p.IsValid() || p.Masked().Addr() != addr {
		return netip.Prefix{}, errECSAddress
	}
	return p, nil
}

// Subnet returns the ECS option a client sends for its source prefix p
// (RFC 7871 section 6): the family of p's address, its prefix length as
// SOURCE PREFIX-LENGTH, scope 0.
func Subnet(p netip.Prefix) *dns.EDNS0_SUBNET {
	fam := uint16(1)
	if p.Addr().Is6() {
		fam = 2
	}
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
}

// RemotePrefix is the query's source address as a single-address prefix.
func RemotePrefix(a net.Addr) netip.Prefix {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Prefix{}
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Prefix{}
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen())
}

// ReplyOPT fills the room's OPT record for a reply to a query with opt:
// our buffer size, the DO bit copied, and the client-subnet option echoed
// with scope, written in the option's own family (familyScope).
func (ar *OPTRoom) ReplyOPT(opt *dns.OPT, ecs *dns.EDNS0_SUBNET, scope uint8) *dns.OPT {
	o := &ar.opt
	o.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: UDPSize}
	if opt.Do() {
		o.SetDo()
	}
	if ecs != nil {
		ar.ecs = dns.EDNS0_SUBNET{
			Code:          dns.EDNS0SUBNET,
			Family:        ecs.Family,
			SourceNetmask: ecs.SourceNetmask,
			SourceScope:   familyScope(ecs, scope),
			Address:       ecs.Address,
		}
		ar.opts[0] = &ar.ecs
		o.Option = ar.opts[:]
	}
	return o
}

// familyScope turns scope, a prefix length of the located address, into
// one of the option's family (RFC 7871 sections 7.2.1 and 7.3.1). The
// locator places an IPv4-mapped IPv6 source (::ffff:27.0.0.0/120) as the
// IPv4 network it maps, so its scope counts IPv4 bits: in the IPv6 option
// it becomes 96 more (16 -> 112). Scope 0 becomes 96, the mapped space:
// never wider than the located network, and still true for an answer
// that does not depend on the client. The result never exceeds the
// family's address length.
func familyScope(ecs *dns.EDNS0_SUBNET, scope uint8) uint8 {
	switch ecs.Family {
	case 1:
		return min(scope, net.IPv4len*8)
	case 2:
		if a, ok := netip.AddrFromSlice(ecs.Address); ok && a.Is4In6() {
			scope = min(scope, net.IPv4len*8) + 96
		}
		return min(scope, net.IPv6len*8)
	}
	return scope
}

// UDPSize is the EDNS buffer size we advertise (DNS flag day 2020).
const UDPSize = 1232

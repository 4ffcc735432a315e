package dnsmsg

import "github.com/miekg/dns"

// SOA timers (RFC 1912 section 2.2 ranges), the same for every zone either
// role writes an SOA for; only the serial and MINIMUM matter to a zone that
// is never transferred.
const (
	SOARefresh = 7200
	SOARetry   = 1800
	SOAExpire  = 1209600
)

// SOA is the SOA record of a zone at owner: primary ns, mailbox mbox,
// serial, and ttl as both its TTL and its MINIMUM, the negative TTL (RFC
// 2308).
func SOA(owner, ns, mbox string, serial, ttl uint32) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: owner, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      ns,
		Mbox:    mbox,
		Serial:  serial,
		Refresh: SOARefresh,
		Retry:   SOARetry,
		Expire:  SOAExpire,
		Minttl:  ttl,
	}
}

// CNAME is the CNAME record from owner to target.
func CNAME(owner, target string, ttl uint32) *dns.CNAME {
	return &dns.CNAME{
		Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl},
		Target: target,
	}
}

// SubnetOf returns the client-subnet option of m, if any.
func SubnetOf(m *dns.Msg) *dns.EDNS0_SUBNET {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return s
			}
		}
	}
	return nil
}

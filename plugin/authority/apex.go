package authority

import (
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// apex answers at the zone's own name: SOA, NS with glue, ANY.
func (a *answerer) apex(resp *dns.Msg) *dns.Msg {
	q := a.req.Question[0]
	switch q.Qtype {
	case dns.TypeSOA:
		resp.Answer = append(resp.Answer, a.soa(q.Name))
		resp.Ns = a.nsRecords(q.Name)
	case dns.TypeNS:
		resp.Answer = a.nsRecords(q.Name)
		resp.Extra = a.glue()
	case dns.TypeANY:
		resp.Answer = append(resp.Answer, a.hinfo(q.Name))
	default:
		return a.negative(resp, dns.RcodeSuccess)
	}
	return resp
}

// negative writes NXDOMAIN or NODATA with the SOA in the authority
// section, its TTL the negative TTL (RFC 2308).
func (a *answerer) negative(resp *dns.Msg, rcode int) *dns.Msg {
	resp.Rcode = rcode
	resp.Answer = nil
	resp.Ns = []dns.RR{a.soa(a.zone)}
	return resp
}

func (a *answerer) soa(owner string) dns.RR {
	return dnsmsg.SOA(owner, a.nameservers()[0].Name, a.hostmaster(), a.snap.Serial, a.cfg.NegativeTTL)
}

func (a *answerer) hostmaster() string {
	if a.cfg.Hostmaster != "" {
		return a.cfg.Hostmaster
	}
	return dnsmsg.Child("hostmaster", a.zone)
}

// nameservers are the configured ones, or ns1.<zone> with no glue.
func (a *answerer) nameservers() []Nameserver {
	if len(a.cfg.Nameservers) > 0 {
		return a.cfg.Nameservers
	}
	return []Nameserver{{Name: dnsmsg.Child("ns1", a.zone)}}
}

func (a *answerer) nsRecords(owner string) []dns.RR {
	var rrs []dns.RR
	for _, ns := range a.nameservers() {
		rrs = append(rrs, &dns.NS{
			Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: a.cfg.TTL},
			Ns:  ns.Name,
		})
	}
	return rrs
}

// glue is the A and AAAA records of the nameservers inside the zone.
func (a *answerer) glue() []dns.RR {
	var rrs []dns.RR
	for _, ns := range a.nameservers() {
		if dns.IsSubDomain(a.zone, ns.Name) {
			rrs = append(rrs, a.nsAddrs(ns, dns.TypeA)...)
			rrs = append(rrs, a.nsAddrs(ns, dns.TypeAAAA)...)
		}
	}
	return rrs
}

func (a *answerer) nsAddrs(ns Nameserver, qtype uint16) []dns.RR {
	var rrs []dns.RR
	hdr := dns.RR_Header{Name: ns.Name, Rrtype: qtype, Class: dns.ClassINET, Ttl: a.cfg.TTL}
	for _, ip := range ns.Addrs {
		switch {
		case qtype == dns.TypeA && ip.Is4():
			rrs = append(rrs, &dns.A{Hdr: hdr, A: ip.AsSlice()})
		case qtype == dns.TypeAAAA && ip.Is6():
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()})
		}
	}
	return rrs
}

// nameserver returns the in-zone nameserver the query names, or ent true
// when the query names an empty non-terminal above one.
func (a *answerer) nameserver() (ns *Nameserver, ent bool) {
	for i, n := range a.cfg.Nameservers {
		if n.Name == a.qname && dns.IsSubDomain(a.zone, n.Name) {
			return &a.cfg.Nameservers[i], false
		}
		if i := len(n.Name) - len(a.qname); i > 0 && n.Name[i-1] == '.' && n.Name[i:] == a.qname && a.qname != a.zone {
			ent = true
		}
	}
	return nil, ent
}

// nameserverReply answers for a nameserver's own name (its glue) or for
// an empty non-terminal above it.
func (a *answerer) nameserverReply(resp *dns.Msg, ns *Nameserver) *dns.Msg {
	q := a.req.Question[0]
	if ns != nil {
		owner := *ns
		owner.Name = q.Name
		switch q.Qtype {
		case dns.TypeA, dns.TypeAAAA:
			resp.Answer = a.nsAddrs(owner, q.Qtype)
		case dns.TypeANY:
			resp.Answer = []dns.RR{a.hinfo(q.Name)}
		}
	}
	if len(resp.Answer) == 0 {
		return a.negative(resp, dns.RcodeSuccess)
	}
	return resp
}

package meridian

import (
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/model"
)

// records writes the records of the chosen shards for qtype at owner.
func (a *answerer) records(resp *dns.Msg, owner string, qtype uint16, nm answer.Name, shards []*model.Shard) {
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		resp.Answer = a.addresses(resp.Answer, owner, qtype, shards)
	case dns.TypeSRV:
		a.srv(resp, owner, nm, shards)
	case dns.TypeTXT:
		for _, sh := range shards {
			resp.Answer = append(resp.Answer, a.txt(owner, sh))
		}
	}
}

// addresses appends the A or AAAA records of shards. When the best shard
// has no address of the family but a load-balancer hostname, the answer is
// a CNAME to that hostname alone (a CNAME cannot share its name).
func (a *answerer) addresses(rrs []dns.RR, owner string, qtype uint16, shards []*model.Shard) []dns.RR {
	if len(shards) == 0 {
		return rrs
	}
	if len(pickIP(shards[0], qtype)) == 0 {
		if h := shards[0].Hostname; h != "" {
			return append(rrs, a.cname(owner, h))
		}
	}
	hdr := dns.RR_Header{Name: owner, Rrtype: qtype, Class: dns.ClassINET, Ttl: a.ttl}
	for _, sh := range shards {
		for _, ip := range pickIP(sh, qtype) {
			if qtype == dns.TypeA {
				rr := a.newA()
				rr.Hdr, rr.A = hdr, ip
				rrs = append(rrs, rr)
			} else {
				rr := a.newAAAA()
				rr.Hdr, rr.AAAA = hdr, ip
				rrs = append(rrs, rr)
			}
		}
	}
	return rrs
}

// srv appends one SRV record per distinct port of the chosen shards. The
// target of a shard with addresses is the service's own name at the same
// level, with its addresses as additional records; the target of a shard
// with only a load-balancer hostname is that hostname.
func (a *answerer) srv(resp *dns.Msg, owner string, nm answer.Name, shards []*model.Shard) {
	target := strings.TrimPrefix(lower(owner), "_"+nm.Port+"._"+nm.Proto+".")
	seen := map[string]bool{}
	glue := false
	for _, sh := range shards {
		for _, p := range sh.Ports {
			if p.Name != nm.Port || p.Protocol != nm.Proto {
				continue
			}
			t := target
			if len(sh.V4)+len(sh.V6) == 0 {
				t = sh.Hostname
			} else {
				glue = true
			}
			key := t + "/" + strconv.Itoa(int(p.Port))
			if seen[key] {
				continue
			}
			seen[key] = true
			resp.Answer = append(resp.Answer, &dns.SRV{
				Hdr:      dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: a.ttl},
				Priority: 0, Weight: 100, Port: p.Port, Target: t,
			})
		}
	}
	if glue {
		glued := withAddresses(shards)
		resp.Extra = a.addresses(resp.Extra, target, dns.TypeA, glued)
		resp.Extra = a.addresses(resp.Extra, target, dns.TypeAAAA, glued)
	}
}

func withAddresses(shards []*model.Shard) []*model.Shard {
	out := make([]*model.Shard, 0, len(shards))
	for _, sh := range shards {
		if len(sh.V4)+len(sh.V6) > 0 {
			out = append(out, sh)
		}
	}
	return out
}

func (a *answerer) txt(owner string, sh *model.Shard) dns.RR {
	c := sh.Cluster
	return &dns.TXT{
		Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: a.ttl},
		Txt: []string{
			"cluster=" + c.Name,
			"region=" + c.Region,
			"zones=" + strings.Join(c.Zones, ","),
			"ready=" + strconv.Itoa(sh.Ready) + "/" + strconv.Itoa(sh.Total),
		},
	}
}

func (a *answerer) cname(owner, target string) dns.RR {
	return &dns.CNAME{
		Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: a.ttl},
		Target: target,
	}
}

// hinfo is the RFC 8482 answer to ANY.
func (a *answerer) hinfo(owner string) dns.RR {
	return &dns.HINFO{
		Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: a.ttl},
		Cpu: "RFC8482",
	}
}

// pickIP returns the shard's addresses of qtype's family, as records
// hold them (made once, when the snapshot was built).
func pickIP(sh *model.Shard, qtype uint16) []net.IP {
	if qtype == dns.TypeA {
		return sh.IP4
	}
	return sh.IP6
}

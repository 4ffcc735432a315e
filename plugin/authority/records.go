package authority

import (
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/model"
)

// records writes the records of qtype at owner, a name that holds records
// for this client (d is its decision): A and AAAA of the shards chosen per
// family, TXT of d's shards, SRV at an SRV name, RFC 8482's HINFO for ANY;
// nothing for other types (NODATA).
func (a *answerer) records(resp *dns.Msg, owner string, qtype uint16, nm *answer.Name, svc *model.Service, q *answer.Query, d *answer.Result) {
	switch {
	case qtype == dns.TypeANY:
		resp.Answer = append(resp.Answer, a.hinfo(owner))
	case nm.Kind == answer.SRV:
		if qtype == dns.TypeSRV {
			a.count(svc, d)
			a.srv(resp, owner, nm, svc, q, d)
		}
	case qtype == dns.TypeTXT:
		a.count(svc, d)
		for _, sh := range d.Shards {
			resp.Answer = append(resp.Answer, a.txt(owner, sh))
		}
	case qtype == dns.TypeA, qtype == dns.TypeAAAA:
		resp.Answer = a.addresses(resp.Answer, owner, qtype, svc, q, d, true)
	}
}

// addresses appends the A or AAAA records at owner that answer qtype for
// the query at a name whose decision is d: those of the shards that
// answer.ByFamily chooses. counted says whether the answer is counted in
// the metrics (not for SRV glue).
func (a *answerer) addresses(rrs []dns.RR, owner string, qtype uint16, svc *model.Service, q *answer.Query, d *answer.Result, counted bool) []dns.RR {
	var r answer.Result
	var buf [8]*model.Shard
	res := a.family(svc, qtype, q, d, &r, buf[:0])
	if counted {
		a.count(svc, res)
	}
	hdr := dns.RR_Header{Name: owner, Rrtype: qtype, Class: dns.ClassINET, Ttl: a.ttl}
	for _, sh := range res.Shards {
		for _, ip := range pickIP(sh, qtype) {
			if qtype == dns.TypeA {
				rr := a.NewA()
				rr.Hdr, rr.A = hdr, ip
				rrs = append(rrs, rr)
			} else {
				rr := a.NewAAAA()
				rr.Hdr, rr.AAAA = hdr, ip
				rrs = append(rrs, rr)
			}
		}
	}
	return rrs
}

// family returns the decision for qtype's family at a name whose decision
// is d: d itself when both families share it, else answer.ByFamily's,
// made into r with buf as room for its shards, with the reply's scope
// widened to it.
func (a *answerer) family(svc *model.Service, qtype uint16, q *answer.Query, d, r *answer.Result, buf []*model.Shard) *answer.Result {
	fam := answer.V4
	if qtype == dns.TypeAAAA {
		fam = answer.V6
	}
	if answer.Shared(svc, fam) {
		return d
	}
	*r = answer.ByFamily(svc, q, d, fam, &a.cfg.Answer, buf)
	a.depends(r, &q.Loc)
	a.traceFamily(fam, r)
	return r
}

// srv appends one SRV record per distinct target and port of d's shards.
// The target of a shard with only a load-balancer hostname is that
// hostname. The target of a shard with IP addresses is the service's own
// name at the same level, with that name's A and AAAA answer for this
// client as additional records, so the glue is what a query for the target
// would get; such shards are named only while the service name holds
// records for the client, not while it is a CNAME to the first shard's
// hostname (it would lead there, not to them).
func (a *answerer) srv(resp *dns.Msg, owner string, nm *answer.Name, svc *model.Service, q *answer.Query, d *answer.Result) {
	target := strings.TrimPrefix(dnsmsg.Lower(owner), "_"+nm.Port+"._"+nm.Proto+".")
	viaTarget := len(d.Shards) > 0 && d.Shards[0].HasIP()
	seen := map[string]bool{}
	glue := false
	for _, sh := range d.Shards {
		for _, p := range sh.Ports {
			if p.Name != nm.Port || p.Protocol != nm.Proto {
				continue
			}
			t := target
			switch {
			case !sh.HasIP():
				t = sh.Hostname
			case !viaTarget:
				continue
			default:
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
		resp.Extra = a.addresses(resp.Extra, target, dns.TypeA, svc, q, d, false)
		resp.Extra = a.addresses(resp.Extra, target, dns.TypeAAAA, svc, q, d, false)
	}
}

func (a *answerer) txt(owner string, sh *model.Shard) dns.RR {
	c := sh.Cluster
	return &dns.TXT{
		Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: a.ttl},
		Txt: txtStrings(
			"cluster="+c.Name,
			"region="+c.Region,
			"zones="+strings.Join(c.Zones, ","),
			"ready="+strconv.Itoa(sh.Ready)+"/"+strconv.Itoa(sh.Total),
		),
	}
}

// txtStrings returns the character strings of a TXT record that carries
// each of texts as its bytes: a text longer than 255 bytes (a long
// cluster name, a cluster of many zones) is split into strings of 255,
// which miekg/dns would otherwise refuse to pack, failing the whole
// reply; and backslashes are escaped, since miekg/dns reads a TXT string
// in presentation form (a name holding `\065` would go out as "A").
func txtStrings(texts ...string) []string {
	out := make([]string, 0, len(texts))
	for _, t := range texts {
		for len(t) > 255 {
			out = append(out, escapeTxt(t[:255]))
			t = t[255:]
		}
		out = append(out, escapeTxt(t))
	}
	return out
}

// escapeTxt escapes the backslashes of s for miekg/dns's TXT packer.
func escapeTxt(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.ReplaceAll(s, `\`, `\\`)
}

// hinfo is the RFC 8482 answer to ANY. It says nothing of the shards, so
// it keeps the configured TTL while the service is degraded.
func (a *answerer) hinfo(owner string) dns.RR {
	return &dns.HINFO{
		Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: a.cfg.TTL},
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

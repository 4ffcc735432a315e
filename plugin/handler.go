package meridian

import (
	"context"
	"strings"

	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// ServeDNS implements plugin.Handler.
func (m *Meridian) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 {
		return m.fail(w, r, dns.RcodeFormatError)
	}
	if r.Opcode != dns.OpcodeQuery && r.Opcode != dns.OpcodeNotify {
		// setup lets these through the server, which would answer NOTIMP
		// without an OPT record; other plugins of the block never see them,
		// as before. NOTIFY outside our zones goes on to the next plugin.
		return m.fail(w, r, dns.RcodeNotImplemented)
	}
	q := r.Question[0]
	zone := matchZone(m.cfg.Zones, q.Name)
	if zone == "" {
		if m.Next == nil {
			return m.fail(w, r, dns.RcodeRefused)
		}
		return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
	}
	switch {
	case r.Opcode != dns.OpcodeQuery:
		return m.fail(w, r, dns.RcodeNotImplemented)
	case q.Qclass != dns.ClassINET, q.Qtype == dns.TypeAXFR, q.Qtype == dns.TypeIXFR:
		return m.fail(w, r, dns.RcodeRefused)
	}
	if err := checkOPT(r); err != nil {
		log.Debugf("query %s: %v", q.Name, err)
		return m.fail(w, r, dns.RcodeFormatError)
	}
	opt := r.IsEdns0()
	ecs, subnet, err := clientSubnet(opt)
	if err != nil {
		log.Debugf("query %s: %v", q.Name, err)
		return m.fail(w, r, dns.RcodeFormatError)
	}
	if m.res != nil {
		m.res.serve(ctx, w, r, zone, opt, ecs)
		return dns.RcodeSuccess, nil
	}
	snap := m.store.Snapshot()
	if snap == nil {
		return m.fail(w, r, dns.RcodeServerFailure)
	}
	if ecs == nil {
		subnet = remotePrefix(w.RemoteAddr())
	}
	a := &answerer{m: m, snap: snap, req: r, zone: zone, qname: lower(q.Name), client: subnet, ttl: m.cfg.TTL}
	resp := a.respond()
	if opt != nil {
		resp.Extra = append(resp.Extra, a.replyOPT(opt, ecs, a.scope))
	}
	if additional(resp) {
		state := request.Request{W: w, Req: r}
		fit(resp, state.Size())
	}
	w.WriteMsg(resp)
	return dns.RcodeSuccess, nil
}

// Name implements plugin.Handler.
func (m *Meridian) Name() string { return pluginName }

// fail writes a reply with no records and rcode, with an OPT record when
// the query had one (RFC 6891 sections 6.1.1 and 7), even a misplaced one.
func (m *Meridian) fail(w dns.ResponseWriter, r *dns.Msg, rcode int) (int, error) {
	resp := new(dns.Msg)
	resp.SetRcode(r, rcode)
	if len(r.Question) > 1 {
		resp.Question = nil
	}
	if opt := anyOPT(r); opt != nil {
		resp.Extra = []dns.RR{errorOPT(opt)}
	}
	w.WriteMsg(resp)
	return dns.RcodeSuccess, nil
}

// matchZone returns the longest zone that qname is in (zones are lower
// case, qname of any case), or "". Unlike plugin.Zones.Matches it does not
// allocate.
func matchZone(zones []string, qname string) string {
	best := ""
	for _, z := range zones {
		if len(z) <= len(best) || len(z) > len(qname) {
			continue
		}
		i := len(qname) - len(z)
		if (z == "." || i == 0 || qname[i-1] == '.') && strings.EqualFold(qname[i:], z) {
			best = z
		}
	}
	return best
}

// lower returns s in lower case, allocating only when s has upper case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

var log = clog.NewWithPlugin(pluginName)

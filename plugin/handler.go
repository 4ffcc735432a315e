package meridian

import (
	"context"

	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// ServeDNS implements plugin.Handler.
func (m *Meridian) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 {
		return m.fail(m.limit(w, ""), r, dns.RcodeFormatError)
	}
	if r.Opcode != dns.OpcodeQuery && r.Opcode != dns.OpcodeNotify {
		// setup lets these through the server, which would answer NOTIMP
		// without an OPT record; other plugins of the block never see them,
		// as before. NOTIFY outside our zones goes on to the next plugin.
		return m.fail(m.limit(w, ""), r, dns.RcodeNotImplemented)
	}
	q := r.Question[0]
	zone := dnsmsg.MatchZone(m.cfg.Zones, q.Name)
	if zone == "" {
		if m.Next == nil {
			return m.fail(m.limit(w, ""), r, dns.RcodeRefused)
		}
		return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
	}
	w = m.limit(w, zone) // from here on, every reply is the plugin's own
	switch {
	case r.Opcode != dns.OpcodeQuery:
		return m.fail(w, r, dns.RcodeNotImplemented)
	case q.Qclass != dns.ClassINET, q.Qtype == dns.TypeAXFR, q.Qtype == dns.TypeIXFR:
		return m.fail(w, r, dns.RcodeRefused)
	}
	if err := dnsmsg.CheckOPT(r); err != nil {
		log.Debugf("query %s: %v", q.Name, err)
		return m.fail(w, r, dns.RcodeFormatError)
	}
	opt := r.IsEdns0()
	ecs, subnet, err := dnsmsg.ClientSubnet(opt)
	if err != nil {
		log.Debugf("query %s: %v", q.Name, err)
		return m.fail(w, r, dns.RcodeFormatError)
	}
	if ecs == nil {
		subnet = dnsmsg.RemotePrefix(w.RemoteAddr())
	}
	if !m.serving() {
		dnsmsg.FailWith(w, r, dns.RcodeServerFailure, notReady)
		return dns.RcodeSuccess, nil
	}
	m.role.Serve(ctx, w, dnsmsg.Query{Req: r, Zone: zone, OPT: opt, ECS: ecs, Client: subnet})
	return dns.RcodeSuccess, nil
}

// Name implements plugin.Handler.
func (m *Meridian) Name() string { return pluginName }

// fail writes a reply with no records and rcode (dnsmsg.Fail).
func (m *Meridian) fail(w dns.ResponseWriter, r *dns.Msg, rcode int) (int, error) {
	dnsmsg.Fail(w, r, rcode)
	return dns.RcodeSuccess, nil
}

var log = clog.NewWithPlugin(pluginName)

package meridian

import (
	"context"
	"net"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// TestServeDNSMappedScope is finding 3 of issue 10: an IPv4-mapped IPv6
// source is located as IPv4, and its scope is written in IPv6 bits.
func TestServeDNSMappedScope(t *testing.T) {
	m := newTestPlugin(t)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	m.ServeDNS(context.Background(), rec, query(global, dns.TypeA, "::ffff:27.0.0.0/120"))
	if rec.Msg == nil || rec.Msg.Rcode != dns.RcodeSuccess || len(rec.Msg.Answer) == 0 {
		t.Fatalf("reply %v, want an answer", rec.Msg)
	}
	e := dnsmsg.SubnetOf(rec.Msg)
	if e == nil || e.Family != 2 || e.SourceNetmask != 120 || e.SourceScope != 96+16 {
		t.Errorf("ECS %v, want family 2, source 120, scope 112 (the /16 located, in IPv6 bits)", e)
	}
}

// TestServeDNSErrorOPT is finding 6 of issue 10: error replies to a query
// with an OPT record carry one, with the DO bit copied, and FORMERR
// answers an OPT record that is misplaced or repeated (finding 5).
func TestServeDNSErrorOPT(t *testing.T) {
	m := newTestPlugin(t)
	edns := func(do bool, mut func(*dns.Msg)) *dns.Msg {
		msg := query(global, dns.TypeA, "")
		msg.SetEdns0(1232, do)
		mut(msg)
		return msg
	}
	tests := []struct {
		name  string
		msg   *dns.Msg
		rcode int
		do    bool
		opt   bool
	}{
		{"notify", edns(true, func(r *dns.Msg) { r.Opcode = dns.OpcodeNotify }), dns.RcodeNotImplemented, true, true},
		{"two questions", edns(false, func(r *dns.Msg) { r.Question = append(r.Question, r.Question[0]) }), dns.RcodeFormatError, false, true},
		{"ecs scope set", edns(true, func(r *dns.Msg) {
			r.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, SourceScope: 8, Address: net.IPv4(27, 0, 0, 0).To4()}}
		}), dns.RcodeFormatError, true, true},
		{"two OPT records", edns(true, func(r *dns.Msg) { r.Extra = append(r.Extra, newOPT(".", true)) }), dns.RcodeFormatError, true, true},
		{"OPT not at the root", edns(false, func(r *dns.Msg) { r.Extra[0].Header().Name = "example.com." }), dns.RcodeFormatError, false, true},
		{"OPT in the answer", edns(true, func(r *dns.Msg) { r.Answer, r.Extra = r.Extra, nil }), dns.RcodeFormatError, true, true},
		{"status", edns(true, func(r *dns.Msg) { r.Opcode = dns.OpcodeStatus }), dns.RcodeNotImplemented, true, true},
		{"update", edns(false, func(r *dns.Msg) { r.Opcode = dns.OpcodeUpdate }), dns.RcodeNotImplemented, false, true},
		{"unassigned opcode outside the zone: not passed on", edns(true, func(r *dns.Msg) {
			r.Opcode = 15
			r.Question[0].Name = "example.org."
		}), dns.RcodeNotImplemented, true, true},
		{"no OPT, no OPT back", func() *dns.Msg {
			r := query(global, dns.TypeA, "")
			r.Opcode = dns.OpcodeNotify
			return r
		}(), dns.RcodeNotImplemented, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			m.ServeDNS(context.Background(), rec, tc.msg)
			r := rec.Msg
			if r == nil || r.Rcode != tc.rcode || len(r.Answer) != 0 {
				t.Fatalf("reply %v, want rcode %s and no answer", r, dns.RcodeToString[tc.rcode])
			}
			o := r.IsEdns0()
			switch {
			case !tc.opt && o != nil:
				t.Errorf("reply has an OPT record to a query without one: %v", o)
			case tc.opt && o == nil:
				t.Fatal("reply has no OPT record")
			case tc.opt && (o.UDPSize() != dnsmsg.UDPSize || o.Do() != tc.do || o.Hdr.Name != "."):
				t.Errorf("OPT %v, want ours: size %d, DO %v", o, dnsmsg.UDPSize, tc.do)
			}
			if _, err := r.Pack(); err != nil {
				t.Errorf("reply does not pack: %v", err)
			}
		})
	}
}

// TestServeDNSReplyOPT checks the OPT record the plugin writes on an
// answer: our buffer size whatever the client's, the DO bit copied (CoreDNS's
// ScrubWriter rewrites the size afterwards; see docs/dns-behaviour.md).
func TestServeDNSReplyOPT(t *testing.T) {
	m := newTestPlugin(t)
	for _, tc := range []struct {
		size uint16
		do   bool
	}{{100, false}, {512, true}, {4096, true}} {
		msg := query(global, dns.TypeA, "27.0.0.0/24")
		msg.IsEdns0().SetUDPSize(tc.size)
		if tc.do {
			msg.IsEdns0().SetDo()
		}
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		m.ServeDNS(context.Background(), rec, msg)
		if rec.Msg == nil || len(rec.Msg.Answer) == 0 {
			t.Fatalf("client size %d: reply %v, want an answer", tc.size, rec.Msg)
		}
		if o := rec.Msg.IsEdns0(); o == nil || o.UDPSize() != dnsmsg.UDPSize || o.Do() != tc.do {
			t.Errorf("client size %d DO %v: OPT %v, want size %d, DO copied", tc.size, tc.do, o, dnsmsg.UDPSize)
		}
	}
}

func newOPT(name string, do bool) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeOPT, Class: 1232}}
	if do {
		o.SetDo()
	}
	return o
}

package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rawExchange sends one wire-format query over network ("udp" or "tcp")
// and returns the reply, or nil when none came within the deadline.
func rawExchange(t *testing.T, network, addr string, wire []byte) *dns.Msg {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if network == "tcp" {
		wire = append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...)
	}
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	var n int
	if network == "tcp" {
		if _, err = io.ReadFull(conn, buf[:2]); err == nil {
			n = int(binary.BigEndian.Uint16(buf))
			_, err = io.ReadFull(conn, buf[:n])
		}
	} else {
		n, err = conn.Read(buf)
	}
	if err != nil {
		return nil // no reply
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return r
}

// ednsQuery packs a query for name/qtype with an OPT record (buffer size,
// DO) after mut has changed it.
func ednsQuery(t *testing.T, name string, qtype uint16, size uint16, do bool, mut func(*dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(size, do)
	if mut != nil {
		mut(m)
	}
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return wire
}

// ecsOption is an ECS option written byte by byte, so that its address
// may have any number of octets.
func ecsOption(b ...byte) func(*dns.Msg) {
	return func(m *dns.Msg) {
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: b}}
	}
}

// replyOPT describes the OPT record of a reply for an error message.
func replyOPT(r *dns.Msg) string {
	o := r.IsEdns0()
	if o == nil {
		return "no OPT"
	}
	return fmt.Sprintf("OPT size %d DO %v", o.UDPSize(), o.Do())
}

// TestProtocolEDNS sends raw queries (findings 3-6 and 8 of issue 10)
// over UDP and TCP and checks the rcode and the reply's OPT record: the
// RFC's reply where the plugin decides, and the server layer's documented
// one (docs/dns-behaviour.md, "Protocol") where CoreDNS or miekg/dns answer
// before the plugin runs.
func TestProtocolEDNS(t *testing.T) {
	s := startDemo(t)
	tests := protocolCases(t)
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				r := rawExchange(t, network, s.DNS, tc.wire)
				if r == nil {
					t.Fatal("no reply")
				}
				checkEDNS(t, r, tc.want)
			})
		}
	}
}

// ednsWant is the reply a protocolCase expects.
type ednsWant struct {
	rcode int
	opt   bool // the reply has an OPT record ...
	size  uint16
	do    bool // ... with this size and DO bit
	scope int  // the ECS scope; -1: no ECS option
}

// protocolCase is one raw query and the reply it must get.
type protocolCase struct {
	name string
	wire []byte
	want ednsWant
}

// protocolCases are TestProtocolEDNS's queries: the RFC's reply where the
// plugin decides, the server layer's documented one where it does not.
func protocolCases(t *testing.T) []protocolCase {
	mapped := []byte{0, 2, 120, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 27, 0, 0}
	return []protocolCase{
		// Finding 3: an IPv4-mapped source is located as 27.0.0.0/16; the
		// scope is written in IPv6 bits (RFC 7871 7.2.1, 7.3.1).
		{"ecs ipv4-mapped scope in ipv6 bits", ednsQuery(t, nginx, dns.TypeA, 1232, true, ecsOption(mapped...)), ednsWant{dns.RcodeSuccess, true, 1232, true, 96 + 16}},
		{"ecs ipv4 scope", ednsQuery(t, nginx, dns.TypeA, 1232, false, ecsOption(0, 1, 24, 0, 27, 0, 0)), ednsWant{dns.RcodeSuccess, true, 1232, false, 16}},
		// Finding 5: OPT records where RFC 6891 6.1.1 forbids them.
		{"two OPT records", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Extra = append(m.Extra, m.Extra[0]) }), ednsWant{dns.RcodeFormatError, true, 1232, true, -1}},
		{"OPT not owned by the root", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Extra[0].Header().Name = "example.com." }), ednsWant{dns.RcodeFormatError, true, 1232, true, -1}},
		{"OPT in the answer section", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Answer, m.Extra = m.Extra, nil }), ednsWant{dns.RcodeFormatError, true, 1232, true, -1}},
		{"OPT in the authority section", ednsQuery(t, nginx, dns.TypeA, 1232, false, func(m *dns.Msg) { m.Ns, m.Extra = m.Extra, nil }), ednsWant{dns.RcodeFormatError, true, 1232, false, -1}},
		// Finding 6: error replies the plugin writes carry an OPT record.
		{"NOTIFY is not implemented", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), ednsWant{dns.RcodeNotImplemented, true, 1232, true, -1}},
		{"ecs scope set in the query", ednsQuery(t, nginx, dns.TypeA, 1232, true, ecsOption(0, 1, 24, 8, 27, 0, 0)), ednsWant{dns.RcodeFormatError, true, 1232, true, -1}},
		{"ecs bits past the prefix", ednsQuery(t, nginx, dns.TypeA, 1232, true, ecsOption(0, 1, 16, 0, 27, 0, 1)), ednsWant{dns.RcodeFormatError, true, 1232, true, -1}},
		// Upstream, before the plugin (docs/dns-behaviour.md): miekg/dns
		// rejects these from the header or the decoder, without an OPT.
		{"opcode STATUS is not implemented", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Opcode = dns.OpcodeStatus }), ednsWant{dns.RcodeNotImplemented, true, 1232, true, -1}},
		{"opcode UPDATE is not implemented", ednsQuery(t, nginx, dns.TypeA, 1232, false, func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }), ednsWant{dns.RcodeNotImplemented, true, 1232, false, -1}},
		{"unassigned opcode 9", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Opcode = 9 }), ednsWant{dns.RcodeNotImplemented, true, 1232, true, -1}},
		{"upstream: two questions", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), ednsWant{dns.RcodeFormatError, false, 0, false, -1}},
		{"upstream: no question", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.Question = nil }), ednsWant{dns.RcodeFormatError, false, 0, false, -1}},
		{"upstream: ecs family 3", ednsQuery(t, nginx, dns.TypeA, 1232, true, ecsOption(0, 3, 24, 0, 1, 2, 3)), ednsWant{dns.RcodeFormatError, false, 0, false, -1}},
		// Finding 4, upstream: miekg/dns pads or drops address octets
		// before the plugin sees the option, so a wrong count is answered.
		{"upstream: ecs too few octets", ednsQuery(t, nginx, dns.TypeA, 1232, true, ecsOption(0, 1, 24, 0, 27, 0)), ednsWant{dns.RcodeSuccess, true, 1232, true, 16}},
		{"upstream: ecs too many octets", ednsQuery(t, nginx, dns.TypeA, 1232, true, ecsOption(0, 1, 16, 0, 27, 0, 0, 0)), ednsWant{dns.RcodeSuccess, true, 1232, true, 16}},
		// Finding 8, upstream: CoreDNS answers BADVERS itself, with UDP size
		// 0 and no DO, and its ScrubWriter echoes the client's size.
		{"upstream: BADVERS", ednsQuery(t, nginx, dns.TypeA, 1232, true, func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }), ednsWant{dns.RcodeBadVers, true, 0, false, -1}},
		{"upstream: client size 100 echoed", ednsQuery(t, nginx, dns.TypeA, 100, true, nil), ednsWant{dns.RcodeSuccess, true, 100, true, -1}},
		{"upstream: client size 4096 echoed", ednsQuery(t, nginx, dns.TypeA, 4096, false, nil), ednsWant{dns.RcodeSuccess, true, 4096, false, -1}},
	}
}

// checkEDNS checks a reply's rcode (with the OPT's extended bits), OPT
// record and ECS scope.
func checkEDNS(t *testing.T, r *dns.Msg, w ednsWant) {
	t.Helper()
	rcode, opt, size, do, scope := w.rcode, w.opt, w.size, w.do, w.scope
	if r.Rcode != rcode {
		t.Errorf("rcode %s, want %s (%s)", dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode], replyOPT(r))
	}
	if rcode != dns.RcodeSuccess && len(r.Answer) > 0 {
		t.Errorf("error reply with answers: %v", r.Answer)
	}
	o := r.IsEdns0()
	switch {
	case o == nil && opt:
		t.Fatal("reply has no OPT record")
	case o != nil && !opt:
		t.Fatalf("reply has an OPT record: %v", o)
	case o == nil:
		return
	case o.UDPSize() != size || o.Do() != do || o.Version() != 0:
		t.Errorf("%s version %d, want size %d DO %v version 0", replyOPT(r), o.Version(), size, do)
	}
	var got *dns.EDNS0_SUBNET
	for _, e := range o.Option {
		if e, ok := e.(*dns.EDNS0_SUBNET); ok {
			got = e
		}
	}
	switch {
	case scope < 0 && got != nil:
		t.Errorf("ECS %v in the reply, want none", got)
	case scope >= 0 && (got == nil || int(got.SourceScope) != scope):
		t.Errorf("ECS %v, want scope %d", got, scope)
	}
}

// TestProtocolGlueDoesNotTruncate is finding 7 of issue 10: an SRV answer
// whose glue does not fit the client's buffer drops the glue, without TC
// (RFC 2181 section 9); TCP carries it all.
func TestProtocolGlueDoesNotTruncate(t *testing.T) {
	s := startDemo(t)
	var ips strings.Builder
	for i := range 40 {
		fmt.Fprintf(&ips, "\n      - ip: 203.0.113.%d", 100+i)
	}
	s.editDemo(t, "asia-east1-a", "- ip: 203.0.113.11", "- ip: 203.0.113.11", "- ip: 203.0.113.11"+ips.String())
	const zoneA = "nginx.default.myfederation.svc.asia-east1-a.asia-east1.example.com."
	srv := "_http._tcp." + zoneA
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := rawExchange(t, "tcp", s.DNS, ednsQuery(t, srv, dns.TypeSRV, 1232, false, nil))
		if r != nil && len(r.Extra) == 42 { // 41 A records and the OPT
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SRV answer with 41 glue records over TCP: %v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	plain := new(dns.Msg)
	plain.SetQuestion(srv, dns.TypeSRV)
	noEDNS, err := plain.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for name, wire := range map[string][]byte{
		"EDNS 512": ednsQuery(t, srv, dns.TypeSRV, 512, true, nil),
		"no EDNS":  noEDNS,
	} {
		t.Run(name, func(t *testing.T) {
			r := rawExchange(t, "udp", s.DNS, wire)
			if r == nil {
				t.Fatal("no reply")
			}
			if r.Rcode != dns.RcodeSuccess || r.Truncated || len(r.Answer) != 1 {
				t.Fatalf("rcode %s TC %v answers %d, want NOERROR, no TC, the SRV record", dns.RcodeToString[r.Rcode], r.Truncated, len(r.Answer))
			}
			for _, rr := range r.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					t.Errorf("glue kept in a reply that could not hold it all: %v", rr)
				}
			}
			if wire, _ := r.Pack(); len(wire) > 512 {
				t.Errorf("reply is %d bytes, over 512", len(wire))
			}
		})
	}
}

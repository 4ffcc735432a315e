package fastpath

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// pack packs a query for name and type, with an OPT record when edns and
// the options opts, after mod has changed the message.
func pack(t testing.TB, name string, qtype uint16, edns bool, opts []dns.EDNS0, mod func(*dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x1234
	if edns {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = opts
	}
	if mod != nil {
		mod(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ecs(s string) *dns.EDNS0_SUBNET { return dnsmsg.Subnet(netip.MustParsePrefix(s)) }

// TestParse reads the queries the fast path answers and refuses the rest.
func TestParse(t *testing.T) {
	const name = "svc.ns.fed.svc.example.com."
	raw := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	plain := pack(t, name, dns.TypeA, false, nil, nil)
	withECS := pack(t, name, dns.TypeA, true, []dns.EDNS0{ecs("27.0.1.0/24")}, nil)
	tests := []struct {
		name string
		pkt  []byte
		ok   bool
		want string // fmt of the fields checked, when ok
	}{
		{"plain A", plain, true, "svc.ns.fed.svc.example.com. A IN rd=true edns=false"},
		{"upper case lowered", pack(t, "SVC.Ns.FED.svc.EXAMPLE.com.", dns.TypeAAAA, false, nil, nil), true,
			"svc.ns.fed.svc.example.com. AAAA IN rd=true edns=false"},
		{"EDNS without options", pack(t, name, dns.TypeTXT, true, nil, nil), true, "svc.ns.fed.svc.example.com. TXT IN rd=true edns=true 1232 do=false"},
		{"ECS v4", withECS, true, "svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=false ecs=27.0.1.0/24"},
		{"ECS v6", pack(t, name, dns.TypeA, true, []dns.EDNS0{ecs("2001:db8::/48")}, nil), true,
			"svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=false ecs=2001:db8::/48"},
		{"ECS /0", pack(t, name, dns.TypeA, true, []dns.EDNS0{ecs("0.0.0.0/0")}, nil), true,
			"svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=false ecs=0.0.0.0/0"},
		{"ECS family 0", pack(t, name, dns.TypeA, true, []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET}}, nil), true,
			"svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=false family0"},
		{"DO and CD", pack(t, name, dns.TypeA, true, nil, func(m *dns.Msg) { m.IsEdns0().SetDo(); m.CheckingDisabled = true }), true,
			"svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=true"},
		{"wildcard and underscore labels", pack(t, "_http._tcp.*.example.com.", dns.TypeSRV, false, nil, nil), true,
			"_http._tcp.*.example.com. SRV IN rd=true edns=false"},
		{"the root", pack(t, ".", dns.TypeNS, false, nil, nil), true, ". NS IN rd=true edns=false"},

		{"a response", pack(t, name, dns.TypeA, false, nil, func(m *dns.Msg) { m.Response = true }), false, ""},
		{"NOTIFY", pack(t, name, dns.TypeSOA, false, nil, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), false, ""},
		{"TC", pack(t, name, dns.TypeA, false, nil, func(m *dns.Msg) { m.Truncated = true }), false, ""},
		{"Z", pack(t, name, dns.TypeA, false, nil, func(m *dns.Msg) { m.Zero = true }), false, ""},
		{"an rcode", pack(t, name, dns.TypeA, false, nil, func(m *dns.Msg) { m.Rcode = dns.RcodeRefused }), false, ""},
		{"two questions", pack(t, name, dns.TypeA, false, nil, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), false, ""},
		{"no question", pack(t, name, dns.TypeA, false, nil, func(m *dns.Msg) { m.Question = nil }), false, ""},
		{"an answer record", pack(t, name, dns.TypeA, false, nil, func(m *dns.Msg) {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{192, 0, 2, 1}}}
		}), false, ""},
		{"OPT in the answer section", pack(t, name, dns.TypeA, true, nil, func(m *dns.Msg) { m.Answer, m.Extra = m.Extra, nil }), false, ""},
		{"two additional records", pack(t, name, dns.TypeA, true, nil, func(m *dns.Msg) { m.Extra = append(m.Extra, m.Extra[0]) }), false, ""},
		{"OPT not owned by the root", pack(t, name, dns.TypeA, true, nil, func(m *dns.Msg) { m.Extra[0].Header().Name = "example.com." }), false, ""},
		{"EDNS version 1", pack(t, name, dns.TypeA, true, nil, func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }), false, ""},
		{"an EDNS flag other than DO", pack(t, name, dns.TypeA, true, nil, func(m *dns.Msg) { m.IsEdns0().SetZ(1) }), false, ""},
		// miekg/dns packs the message's rcode over the OPT's: set the byte.
		{"an extended rcode", raw(pack(t, name, dns.TypeA, true, nil, nil), func(b []byte) []byte { b[len(b)-6] = 1; return b }), false, ""},
		{"a cookie and ECS (dig's query): the cookie is skipped", pack(t, name, dns.TypeA, true, []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}, ecs("27.0.1.0/24")}, nil), true,
			"svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=false ecs=27.0.1.0/24"},
		{"padding", pack(t, name, dns.TypeA, true, []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, 17)}}, nil), true,
			"svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=false"},
		{"NSID", pack(t, name, dns.TypeA, true, []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID}}, nil), false, ""},
		{"two ECS options", pack(t, name, dns.TypeA, true, []dns.EDNS0{ecs("27.0.1.0/24"), ecs("27.0.2.0/24")}, nil), false, ""},
		{"ECS with a scope", pack(t, name, dns.TypeA, true, []dns.EDNS0{func() dns.EDNS0 { e := ecs("27.0.1.0/24"); e.SourceScope = 16; return e }()}, nil), false, ""},
		{"ECS address longer than its prefix", raw(withECS, func(b []byte) []byte {
			// /24 with three address bytes: claim /16, keeping three bytes.
			b[len(b)-4] = 16
			return b
		}), false, ""},
		{"ECS bits beyond the prefix", raw(withECS, func(b []byte) []byte { b[len(b)-4] = 20; return b }), false, ""},
		{"ECS of an IPv4-mapped address", pack(t, name, dns.TypeA, true, []dns.EDNS0{ecs("::ffff:27.0.1.0/120")}, nil), false, ""},
		{"ECS family 3", raw(withECS, func(b []byte) []byte { b[len(b)-7] = 3; return b }), false, ""},
		{"trailing bytes", append(append([]byte(nil), plain...), 0), false, ""},
		{"padded to 512 bytes", padded(t, name, 512), true, "svc.ns.fed.svc.example.com. A IN rd=true edns=true 1232 do=false"},
		{"padded past the 512 bytes the chain reads", padded(t, name, 513), false, ""},
		{"truncated question", plain[:len(plain)-2], false, ""},
		{"a compression pointer", raw(plain, func(b []byte) []byte { return append(b[:12], 0xc0, 12, 0, 1, 0, 1) }), false, ""},
		{"an escaped byte", pack(t, `a\.b.example.com.`, dns.TypeA, false, nil, nil), false, ""},
		{"a space", pack(t, `a\032b.example.com.`, dns.TypeA, false, nil, nil), false, ""},
		{"too short", []byte{1, 2, 3}, false, ""},
		{"a name of 255 octets", question(63, 63, 63, 61), true, ""},
		{"a name of 256 octets", question(63, 63, 63, 62), false, ""},
	}
	for _, tc := range tests {
		var q Query
		var name [MaxName]byte
		ok := Parse(tc.pkt, &q, name[:])
		if ok != tc.ok {
			t.Errorf("%s: Parse = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := describe(&q); tc.want != "" && got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if q.ID != 0x1234 || q.QEnd != 12+len(q.Name)+1+4-boolInt(string(q.Name) == ".") {
			t.Errorf("%s: id %#x, question ends at %d", tc.name, q.ID, q.QEnd)
		}
		if err := agrees(tc.pkt, &q); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// question is a packet with one A question whose name has labels of the
// lengths given, built by hand: miekg/dns will not pack a name too long.
func question(labels ...int) []byte {
	b := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range labels {
		b = append(b, byte(l))
		b = append(b, strings.Repeat("a", l)...)
	}
	return append(b, 0, 0, 1, 0, 1)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func describe(q *Query) string {
	s := fmt.Sprintf("%s %s %s rd=%v edns=%v", q.Name, dns.TypeToString[q.Qtype], dns.ClassToString[q.Qclass], q.RD, q.EDNS)
	if q.EDNS {
		s += fmt.Sprintf(" %d do=%v", q.UDPSize, q.DO)
	}
	if q.ECS {
		s += " ecs=" + q.Client.String()
	}
	if q.ECSFamily0 {
		s += " family0"
	}
	return s
}

// agrees checks that what Parse read of pkt is what the chain reads: the
// message miekg/dns unpacks, the OPT checks and the client subnet of
// package dnsmsg.
func agrees(pkt []byte, q *Query) error {
	m := new(dns.Msg)
	if err := m.Unpack(pkt); err != nil {
		return fmt.Errorf("Parse accepted what miekg/dns cannot unpack: %v", err)
	}
	switch {
	case m.Response, m.Opcode != dns.OpcodeQuery, m.Truncated, m.Zero, m.Rcode != 0:
		return fmt.Errorf("header %v accepted", m.MsgHdr)
	case len(m.Question) != 1 || len(m.Answer) != 0 || len(m.Ns) != 0:
		return fmt.Errorf("sections %d/%d/%d accepted", len(m.Question), len(m.Answer), len(m.Ns))
	case m.Id != q.ID || m.RecursionDesired != q.RD || m.CheckingDisabled != q.CD:
		return fmt.Errorf("header %v, parsed id %#x rd %v cd %v", m.MsgHdr, q.ID, q.RD, q.CD)
	case dnsmsg.Lower(m.Question[0].Name) != string(q.Name) || strings.ToLower(m.Question[0].Name) != string(q.Name):
		return fmt.Errorf("name %q, parsed %q", m.Question[0].Name, q.Name)
	case m.Question[0].Qtype != q.Qtype || m.Question[0].Qclass != q.Qclass:
		return fmt.Errorf("question %v, parsed %d %d", m.Question[0], q.Qtype, q.Qclass)
	}
	if err := dnsmsg.CheckOPT(m); err != nil {
		return fmt.Errorf("Parse accepted what CheckOPT refuses: %v", err)
	}
	opt := m.IsEdns0()
	if (opt != nil) != q.EDNS || len(m.Extra) != boolInt(q.EDNS) {
		return fmt.Errorf("OPT %v, parsed EDNS %v", opt, q.EDNS)
	}
	if opt == nil {
		return nil
	}
	if opt.UDPSize() != q.UDPSize || opt.Do() != q.DO || opt.Version() != 0 || opt.ExtendedRcode() != 0 {
		return fmt.Errorf("OPT %v, parsed size %d do %v", opt, q.UDPSize, q.DO)
	}
	e, p, err := dnsmsg.ClientSubnet(opt)
	switch {
	case err != nil:
		return fmt.Errorf("Parse accepted a client subnet the chain refuses: %v", err)
	case (e != nil) != (q.ECS || q.ECSFamily0):
		return fmt.Errorf("ECS %v, parsed %v", e, q.ECS)
	case q.ECS && p != q.Client:
		return fmt.Errorf("ECS network %s, parsed %s", p, q.Client)
	case len(opt.Option)-ignored(opt) != boolInt(e != nil):
		return fmt.Errorf("options %v accepted", opt.Option)
	}
	return nil
}

// ignored counts the options neither the chain nor Parse reads: cookies
// and padding.
func ignored(opt *dns.OPT) int {
	n := 0
	for _, o := range opt.Option {
		if c := o.Option(); c == dns.EDNS0COOKIE || c == dns.EDNS0PADDING {
			n++
		}
	}
	return n
}

// FuzzParse: whatever Parse accepts, the chain reads the same way.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"svc.ns.fed.svc.example.com.", "a.example.com.", "."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			f.Add(pack(f, name, qt, false, nil, nil))
			f.Add(pack(f, name, qt, true, nil, nil))
			f.Add(pack(f, name, qt, true, []dns.EDNS0{ecs("27.0.1.0/24")}, nil))
			f.Add(pack(f, name, qt, true, []dns.EDNS0{ecs("2001:db8::/56")}, nil))
			f.Add(pack(f, name, qt, true, []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}, ecs("27.0.1.0/24")}, nil))
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var q Query
		var name [MaxName]byte
		if !Parse(pkt, &q, name[:]) {
			return
		}
		if err := agrees(pkt, &q); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	pkt := pack(b, "svc042.bench.bench.svc.example.com.", dns.TypeA, true, []dns.EDNS0{ecs("27.0.1.0/24")}, nil)
	var q Query
	var name [MaxName]byte
	b.ReportAllocs()
	for b.Loop() {
		if !Parse(pkt, &q, name[:]) {
			b.Fatal("refused")
		}
	}
}

// padded packs an A query for name with a padding option that makes it
// size bytes long.
func padded(t *testing.T, name string, size int) []byte {
	t.Helper()
	base := len(pack(t, name, dns.TypeA, true, []dns.EDNS0{&dns.EDNS0_PADDING{}}, nil))
	b := pack(t, name, dns.TypeA, true, []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, size-base)}}, nil)
	if len(b) != size {
		t.Fatalf("padded to %d bytes, want %d", len(b), size)
	}
	return b
}

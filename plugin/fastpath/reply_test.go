package fastpath

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// chainReply is the reply the authoritative role writes for recs, as it
// reaches the client through CoreDNS's ScrubWriter: dnsmsg's reply and
// OPT, then request.SizeAndDo and Scrub, packed by miekg/dns.
func chainReply(t *testing.T, pkt []byte, recs *Records) []byte {
	t.Helper()
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		t.Fatal(err)
	}
	var ar dnsmsg.Arena
	resp := ar.Reply(req)
	hdr := dns.RR_Header{Name: req.Question[0].Name, Rrtype: recs.Rtype, Class: dns.ClassINET, Ttl: recs.TTL}
	for _, rd := range recs.Rdata {
		if recs.Rtype == dns.TypeA {
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: net.IP(rd)})
		} else {
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.IP(rd)})
		}
	}
	if opt := req.IsEdns0(); opt != nil {
		ecs, _, err := dnsmsg.ClientSubnet(opt)
		if err != nil {
			t.Fatal(err)
		}
		resp.Extra = append(resp.Extra, ar.ReplyOPT(opt, ecs, recs.Scope))
	}
	state := request.Request{Req: req, W: &test.ResponseWriter{}} // UDP
	state.SizeAndDo(resp)
	resp = state.Scrub(resp)
	b, err := resp.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppendReply: the fast path's reply is the chain's, byte for byte,
// for both families, with and without EDNS and ECS, DO, CD and RD, names
// in any case, one to three records.
func TestAppendReply(t *testing.T) {
	v4 := [][]byte{{192, 0, 2, 10}, {198, 51, 100, 10}, {203, 0, 113, 10}}
	v6 := [][]byte{net.ParseIP("2001:db8::10"), net.ParseIP("2001:db8:2::10")}
	n := 0
	for _, name := range []string{"svc000.bench.bench.svc.example.com.", "Shop.EXAMPLE.com."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			for _, edns := range []int{0, 1, 2, 3} { // none, plain, ECS v4, ECS v6
				for _, mod := range []func(*dns.Msg){nil, func(m *dns.Msg) { m.RecursionDesired = false; m.CheckingDisabled = true },
					func(m *dns.Msg) {
						if o := m.IsEdns0(); o != nil {
							o.SetDo()
							o.SetUDPSize(4096)
						}
					}} {
					var opts []dns.EDNS0
					switch edns {
					case 2:
						opts = []dns.EDNS0{ecs("27.0.1.0/24")}
					case 3:
						opts = []dns.EDNS0{ecs("2001:db8:1200::/40")}
					}
					pkt := pack(t, name, qt, edns > 0, opts, mod)
					var q Query
					var buf [MaxName]byte
					if !Parse(pkt, &q, buf[:]) {
						t.Fatalf("%s %d: refused", name, edns)
					}
					rdata := v4
					if qt == dns.TypeAAAA {
						rdata = v6
					}
					for k := 1; k <= len(rdata); k++ {
						recs := &Records{Rtype: qt, TTL: 30, Rdata: rdata[:k], Scope: 16}
						got := AppendReply(nil, pkt, &q, recs)
						if want := chainReply(t, pkt, recs); !bytes.Equal(got, want) {
							t.Fatalf("%s %s edns %d, %d records:\nfast  %x\nchain %x", name, dns.TypeToString[qt], edns, k, got, want)
						}
						if !Fits(len(got), &q) {
							t.Errorf("a %d-byte reply does not fit", len(got))
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d replies equal to the chain's", n)
}

func TestFits(t *testing.T) {
	for _, tc := range []struct {
		n       int
		edns    bool
		udpSize uint16
		want    bool
	}{
		{512, false, 0, true}, {513, false, 0, false},
		{1232, true, 1232, true}, {1233, true, 1232, false},
		{512, true, 100, true}, {513, true, 100, false}, // at least 512, as RFC 6891 says
	} {
		q := Query{EDNS: tc.edns, UDPSize: tc.udpSize}
		if got := Fits(tc.n, &q); got != tc.want {
			t.Errorf("%s: Fits = %v", fmt.Sprint(tc), got)
		}
	}
}

func BenchmarkAppendReply(b *testing.B) {
	pkt := pack(b, "svc042.bench.bench.svc.example.com.", dns.TypeA, true, []dns.EDNS0{ecs("27.0.1.0/24")}, nil)
	var q Query
	var name [MaxName]byte
	if !Parse(pkt, &q, name[:]) {
		b.Fatal("refused")
	}
	recs := &Records{Rtype: dns.TypeA, TTL: 30, Rdata: [][]byte{{203, 0, 113, 10}}, Scope: 16}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReply(buf[:0], pkt, &q, recs)
	}
}

package dnsmsg

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

const global = "nginx.default.myfed.svc.example.com."

func newOPT(name string, do bool) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeOPT, Class: 1232}}
	if do {
		o.SetDo()
	}
	return o
}

func TestCheckOPT(t *testing.T) {
	a := &dns.A{Hdr: dns.RR_Header{Name: "x.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(192, 0, 2, 1)}
	tests := []struct {
		name              string
		answer, ns, extra []dns.RR
		want              error
	}{
		{"none", nil, nil, nil, nil},
		{"one at the root", nil, nil, []dns.RR{a, newOPT(".", false)}, nil},
		{"two", nil, nil, []dns.RR{newOPT(".", false), newOPT(".", true)}, errOPTCount},
		{"not the root", nil, nil, []dns.RR{newOPT("example.com.", false)}, errOPTOwner},
		{"in the answer", []dns.RR{newOPT(".", false)}, nil, nil, errOPTSection},
		{"in the authority", nil, []dns.RR{newOPT(".", false)}, nil, errOPTSection},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := new(dns.Msg)
			r.SetQuestion(global, dns.TypeA)
			r.Answer, r.Ns, r.Extra = tc.answer, tc.ns, tc.extra
			if err := CheckOPT(r); err != tc.want {
				t.Errorf("CheckOPT = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFamilyScope(t *testing.T) {
	tests := []struct {
		name   string
		family uint16
		addr   string
		scope  uint8
		want   uint8
	}{
		{"ipv4", 1, "27.0.0.0", 16, 16},
		{"ipv4 capped", 1, "27.0.0.0", 40, 32},
		{"ipv6", 2, "2001:200::", 32, 32},
		{"ipv4-mapped", 2, "::ffff:27.0.0.0", 16, 112},
		{"ipv4-mapped, all of ipv4", 2, "::ffff:27.0.0.0", 0, 96},
		{"ipv4-mapped, whole address", 2, "::ffff:27.0.0.1", 32, 128},
		{"no address", 0, "0.0.0.0", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip := net.ParseIP(tc.addr)
			if tc.family == 1 {
				ip = ip.To4()
			}
			e := &dns.EDNS0_SUBNET{Family: tc.family, Address: ip}
			if got := familyScope(e, tc.scope); got != tc.want {
				t.Errorf("familyScope(%s, %d) = %d, want %d", tc.addr, tc.scope, got, tc.want)
			}
		})
	}
}

func TestFit(t *testing.T) {
	glue := func(n int, qtype uint16) []dns.RR {
		var rrs []dns.RR
		for i := range n {
			if qtype == dns.TypeA {
				rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: global, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(192, 0, 2, byte(i))})
			} else {
				rrs = append(rrs, &dns.AAAA{Hdr: dns.RR_Header{Name: global, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 30}, AAAA: net.ParseIP("2001:db8::").To16()})
			}
		}
		return rrs
	}
	srv := &dns.SRV{Hdr: dns.RR_Header{Name: "_http._tcp." + global, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 30}, Port: 80, Target: global}
	tests := []struct {
		name            string
		a, aaaa         int
		size            int
		wantA, wantAAAA int
	}{
		{"fits", 2, 2, 512, 2, 2},
		{"the AAAA set goes first", 20, 10, 512, 20, 0},
		{"then the A set", 40, 10, 512, 0, 0},
		{"a larger buffer keeps both", 20, 10, 1232, 20, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := new(dns.Msg)
			resp.SetQuestion("_http._tcp."+global, dns.TypeSRV)
			resp.Response = true
			resp.Answer = []dns.RR{srv}
			resp.Extra = append(append(glue(tc.a, dns.TypeA), glue(tc.aaaa, dns.TypeAAAA)...), newOPT(".", true))
			Fit(resp, tc.size)
			var a, aaaa, opt int
			for _, rr := range resp.Extra {
				switch rr.Header().Rrtype {
				case dns.TypeA:
					a++
				case dns.TypeAAAA:
					aaaa++
				case dns.TypeOPT:
					opt++
				}
			}
			if a != tc.wantA || aaaa != tc.wantAAAA || opt != 1 || len(resp.Answer) != 1 {
				t.Errorf("after fit: %d A, %d AAAA, %d OPT, %d answers; want %d, %d, 1, 1", a, aaaa, opt, len(resp.Answer), tc.wantA, tc.wantAAAA)
			}
			if l := resp.Len(); l > tc.size {
				t.Errorf("reply is %d bytes, over %d", l, tc.size)
			}
			resp.Truncate(tc.size) // what CoreDNS's ScrubWriter does next
			if resp.Truncated {
				t.Error("the ScrubWriter still had to truncate: TC set")
			}
		})
	}
}

// TestSubnet: the option Subnet makes is read back as the same prefix.
func TestSubnet(t *testing.T) {
	for _, s := range []string{"27.0.0.0/24", "192.0.2.7/32", "0.0.0.0/0", "2001:db8::/48", "::/0"} {
		p := netip.MustParsePrefix(s)
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}, Option: []dns.EDNS0{Subnet(p)}}
		ecs, got, err := ClientSubnet(opt)
		if err != nil || ecs == nil || got != p {
			t.Errorf("Subnet(%s) reads back as %v (%v)", p, got, err)
		}
	}
}

package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestMalformedPackets sends garbage and broken queries to the real
// server over UDP: each gets the reply docs/dns-behaviour.md promises
// ("Protocol"), or none where dropping is the documented behaviour, and
// the server keeps answering.
func TestMalformedPackets(t *testing.T) {
	s := startDemo(t)
	good := new(dns.Msg)
	good.SetQuestion(nginx, dns.TypeA)
	wire, _ := good.Pack()
	for _, tc := range malformedCases(wire) {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("udp", s.DNS)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A dropped packet is seen as no reply within the deadline.
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := conn.Write(tc.p); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65535)
			n, err := conn.Read(buf)
			switch {
			case err != nil && tc.rcode == dropped:
				return
			case err != nil:
				t.Fatalf("no reply, want %s", dns.RcodeToString[tc.rcode])
			case tc.rcode == dropped:
				t.Fatalf("a reply of %d bytes, want none", n)
			}
			r := new(dns.Msg)
			if err := r.Unpack(buf[:n]); err != nil {
				t.Fatalf("reply does not decode: %v", err)
			}
			if r.Rcode != tc.rcode || len(r.Answer) > 0 || (r.IsEdns0() != nil) != tc.opt {
				t.Errorf("rcode %s, %d answers, OPT %v; want %s, none, OPT %v",
					dns.RcodeToString[r.Rcode], len(r.Answer), r.IsEdns0() != nil, dns.RcodeToString[tc.rcode], tc.opt)
			}
		})
	}
	// The server still answers.
	if got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, taipei)); !e2eutil.InRange(got, "203.0.113.") {
		t.Fatalf("after malformed packets: %v", got)
	}
}

// dropped is a malformedCase's rcode when no reply is the documented answer.
const dropped = -1

// malformedCase is one broken packet and the reply docs/dns-behaviour.md
// promises for it.
type malformedCase struct {
	name  string
	p     []byte
	rcode int  // dropped: no reply
	opt   bool // the reply carries an OPT record
}

// malformedCases are broken variants of the query wire (nginx A).
func malformedCases(wire []byte) []malformedCase {
	badECS := func(b []byte) []byte { // an ECS option written byte by byte
		m := new(dns.Msg)
		m.SetQuestion(nginx, dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: b}}
		out, _ := m.Pack()
		return out
	}
	return []malformedCase{
		// miekg/dns cannot read a header: no reply, which could only
		// serve to amplify.
		{"empty", []byte{}, dropped, false},
		{"one byte", []byte{0x42}, dropped, false},
		// One question announced, none there: miekg/dns takes QDCOUNT for
		// a lie and CoreDNS's server answers an empty question SERVFAIL.
		{"header only", wire[:12], dns.RcodeServerFailure, false},
		// The decoder fails: miekg/dns answers FORMERR, without an OPT.
		{"truncated name", wire[:20], dns.RcodeFormatError, false},
		{"garbage", []byte("\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xffnot a name at all"), dns.RcodeFormatError, false},
		{"label too long", append(append([]byte{0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64}, make([]byte, 64)...), 0, 0, 1, 0, 1), dns.RcodeFormatError, false},
		{"ecs bad family", badECS([]byte{0, 3, 24, 0, 1, 2, 3}), dns.RcodeFormatError, false},
		{"ecs prefix too long", badECS([]byte{0, 1, 33, 0, 1, 2, 3, 4}), dns.RcodeFormatError, false},
		{"ecs short", badECS([]byte{0, 1}), dns.RcodeFormatError, false},
		// The plugin sees the option: FORMERR with an OPT (RFC 6891 7).
		{"ecs scope set", badECS([]byte{0, 1, 24, 8, 27, 0, 0}), dns.RcodeFormatError, true},
		{"ecs bits past prefix", badECS([]byte{0, 1, 16, 0, 27, 0, 1}), dns.RcodeFormatError, true},
	}
}

// TestTruncation makes every nginx shard unready, so the global answer
// fails open to all nine; nine TXT records do not fit a plain 512-byte UDP
// reply. UDP gets TC, TCP the whole answer.
func TestTruncation(t *testing.T) {
	s := startDemo(t)
	for _, c := range []string{"us-central1-a", "us-central1-b", "us-central1-c", "europe-west1-b", "europe-west1-c", "europe-west1-d",
		"asia-east1-a", "asia-east1-b", "asia-east1-c"} {
		s.editDemo(t, c, "name: nginx-demo", "ready: true", "ready: false")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.Ask(t, "tcp", nginx, dns.TypeTXT, "")
		if len(r.Answer) == 9 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fail-open answer with 9 addresses over TCP: %v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := new(dns.Msg)
	m.SetQuestion(nginx, dns.TypeTXT)
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, UDPSize: 512}
	r, _, err := c.Exchange(m, s.DNS)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated {
		t.Errorf("UDP reply of %d answers not truncated", len(r.Answer))
	}
	r.Compress = true
	if wire, _ := r.Pack(); len(wire) > 512 {
		t.Errorf("UDP reply is %d bytes, over 512", len(wire))
	}
}

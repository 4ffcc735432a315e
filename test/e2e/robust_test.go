package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestMalformedPackets sends garbage and broken queries to the real
// server over UDP: each gets a well-formed reply or none, and the server
// keeps answering.
func TestMalformedPackets(t *testing.T) {
	s := startDemo(t)
	good := new(dns.Msg)
	good.SetQuestion(nginx, dns.TypeA)
	wire, _ := good.Pack()
	badECS := func(b []byte) []byte { // an ECS option with family 3
		m := new(dns.Msg)
		m.SetQuestion(nginx, dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: b}}
		out, _ := m.Pack()
		return out
	}
	packets := map[string][]byte{
		"empty":                {},
		"one byte":             {0x42},
		"header only":          wire[:12],
		"truncated name":       wire[:20],
		"garbage":              []byte("\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xffnot a name at all"),
		"label too long":       append(append([]byte{0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64}, make([]byte, 64)...), 0, 0, 1, 0, 1),
		"ecs bad family":       badECS([]byte{0, 3, 24, 0, 1, 2, 3}),
		"ecs prefix too long":  badECS([]byte{0, 1, 33, 0, 1, 2, 3, 4}),
		"ecs short":            badECS([]byte{0, 1}),
		"ecs scope set":        badECS([]byte{0, 1, 24, 8, 27, 0, 0}),
		"ecs bits past prefix": badECS([]byte{0, 1, 16, 0, 27, 0, 1}),
	}
	for name, p := range packets {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("udp", s.DNS)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
			if _, err := conn.Write(p); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65535)
			n, err := conn.Read(buf)
			if err != nil {
				return // dropped: allowed
			}
			r := new(dns.Msg)
			if err := r.Unpack(buf[:n]); err != nil {
				t.Fatalf("reply does not decode: %v", err)
			}
			if r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
				t.Errorf("malformed query answered: %v", r)
			}
		})
	}
	// The server still answers.
	if got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, taipei)); !e2eutil.InRange(got, "203.0.113.") {
		t.Fatalf("after malformed packets: %v", got)
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

package e2eutil

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Scrape returns the metrics page.
func (s *Server) Scrape(t testing.TB) string {
	t.Helper()
	resp, err := http.Get("http://" + s.Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// HasMetric reports whether the metrics page has a line starting with
// series (name and labels) followed by value.
func (s *Server) HasMetric(t testing.TB, series, value string) bool {
	return s.Metric(t, series) == value
}

// Metric returns the value of series (name and labels) on the metrics
// page, or "" when the page has no such line.
func (s *Server) Metric(t testing.TB, series string) string {
	for _, line := range strings.Split(s.Scrape(t), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WaitMetric polls the metrics page every 20ms until series has the value
// want returns (asked again each time), and fails the test with the last
// value seen when limit passes first.
func (s *Server) WaitMetric(t testing.TB, limit time.Duration, series string, want func() string) {
	t.Helper()
	var got, w string
	start := time.Now()
	for got, w = s.Metric(t, series), want(); got != w; got, w = s.Metric(t, series), want() {
		if time.Since(start) > limit {
			t.Fatalf("%s is %q after %v, want %q", series, got, limit, w)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Ask sends one query for name/qtype, with a client subnet when subnet is
// not "", over network ("udp" or "tcp"), and returns the reply.
func (s *Server) Ask(t testing.TB, network, name string, qtype uint16, subnet string) *dns.Msg {
	t.Helper()
	r, err := s.Exchange(network, name, qtype, subnet)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

// Exchange is Ask that returns the error instead of failing the test.
func (s *Server) Exchange(network, name string, qtype uint16, subnet string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if err := addSubnet(m, subnet); err != nil {
		return nil, err
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.DNS)
	return r, err
}

// addSubnet adds the client-subnet option for subnet (a CIDR) to m, and
// EDNS (1232 bytes) if m has none yet; nothing when subnet is "".
func addSubnet(m *dns.Msg, subnet string) error {
	if subnet == "" {
		return nil
	}
	_, ipnet, err := net.ParseCIDR(subnet)
	if err != nil {
		return err
	}
	if m.IsEdns0() == nil {
		m.SetEdns0(1232, false)
	}
	o := m.IsEdns0()
	o.Option = append(o.Option, subnetOption(*ipnet))
	return nil
}

// subnetOption is the client-subnet option for the network n.
func subnetOption(n net.IPNet) *dns.EDNS0_SUBNET {
	bits, _ := n.Mask.Size()
	fam := uint16(1)
	if n.IP.To4() == nil {
		fam = 2
	}
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(bits), Address: n.IP}
}

// Addrs returns the A and AAAA addresses of an answer.
func Addrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	return out
}

// InRange reports whether addrs is not empty and every one starts with prefix.
func InRange(addrs []string, prefix string) bool {
	if len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, prefix) {
			return false
		}
	}
	return true
}

// Subnet returns the client-subnet option of a reply, or nil.
func Subnet(m *dns.Msg) *dns.EDNS0_SUBNET {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return s
			}
		}
	}
	return nil
}

// EDE returns the Extended DNS Error code of a reply (RFC 8914), if any.
func EDE(m *dns.Msg) (uint16, bool) {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if x, ok := e.(*dns.EDNS0_EDE); ok {
				return x.InfoCode, true
			}
		}
	}
	return 0, false
}

// Eventually polls cond every 20ms until it holds or limit passes, and
// returns how long it took.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// FreePort returns a port that was free for both UDP and TCP on 127.0.0.1
// when it looked. It is closed again before it is returned, so another
// process may take it first: a caller must retry on a bind failure (as
// StartWith does) or, in-process, listen on :0 and pass the listener.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// FreePorts returns n distinct free ports (FreePort each): a port given
// twice to one process, its DNS and its metrics say, would put two
// listeners on one address, and the metrics would be asked of DNS.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		if p := FreePort(t); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// SyncBuffer is a process's output, written by exec's copier goroutine
// while tests read it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WriteFile replaces path's content the way editors and ConfigMap updates
// do: write a temporary file, then rename it over the old one.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

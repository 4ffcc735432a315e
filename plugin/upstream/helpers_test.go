package upstream

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/internal/nettest"

	"github.com/miekg/dns"
)

// epoch is where the tests' fake clocks start.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testLogger records what is logged.
type testLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLogger) Debugf(format string, args ...any)   { l.add("D " + fmt.Sprintf(format, args...)) }
func (l *testLogger) Infof(format string, args ...any)    { l.add("I " + fmt.Sprintf(format, args...)) }
func (l *testLogger) Warningf(format string, args ...any) { l.add("W " + fmt.Sprintf(format, args...)) }

func (l *testLogger) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *testLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// testServer is a miekg/dns server on 127.0.0.1, UDP and TCP on one port,
// that counts the queries each transport brought.
type testServer struct {
	addr string
	udp  atomic.Int32
	tcp  atomic.Int32
}

// calls is the number of queries over both transports.
func (s *testServer) calls() int { return int(s.udp.Load() + s.tcp.Load()) }

// startServer serves h on a free 127.0.0.1 port until the test ends. h
// writing nothing leaves the client without a reply.
func startServer(t testing.TB, h dns.HandlerFunc) *testServer {
	t.Helper()
	s := &testServer{}
	pc, ln := nettest.ListenPair(t)
	s.addr = pc.LocalAddr().String()
	count := func(w dns.ResponseWriter, r *dns.Msg) {
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			s.tcp.Add(1)
		} else {
			s.udp.Add(1)
		}
		h(w, r)
	}
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: dns.HandlerFunc(count)},
		{Listener: ln, Handler: dns.HandlerFunc(count)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// closedAddrs returns n distinct 127.0.0.1 ports nothing listens on, over
// UDP or TCP, and keeps them so until the test ends: each port is the local
// end of a UDP socket connected elsewhere and of a TCP connection the test
// holds open, so no server can take it meanwhile. A UDP query to it gets
// ICMP port unreachable (a connected socket takes datagrams from its peer
// only), a TCP dial a reset.
func closedAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = closedAddr(t)
	}
	return addrs
}

func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	loop := net.IPv4(127, 0, 0, 1)
	for range 20 {
		uc, err := net.DialUDP("udp", &net.UDPAddr{IP: loop}, &net.UDPAddr{IP: loop, Port: 9})
		if err != nil {
			t.Fatal(err)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: loop, Port: uc.LocalAddr().(*net.UDPAddr).Port}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil { // the port is taken over TCP: another one
			uc.Close()
			continue
		}
		t.Cleanup(func() { uc.Close(); c.Close() })
		return uc.LocalAddr().String()
	}
	t.Fatal("no port free over both udp and tcp")
	return ""
}

// silentAddr is a UDP socket on 127.0.0.1 that reads queries, counts them
// and never answers, as a server behind a black hole.
func silentAddr(t testing.TB) (string, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var n atomic.Int32
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return pc.LocalAddr().String(), &n
}

// reply returns a handler answering every query with rcode and rrs.
func reply(rcode int, rrs ...string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		m.Authoritative = true
		for _, s := range rrs {
			m.Answer = append(m.Answer, mustRR(s))
		}
		_ = w.WriteMsg(m)
	}
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

// query is an A query for name with a set ID.
func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 4321
	return m
}

// newUpstream makes an Upstream for servers, with a 1 s attempt timeout
// unless c sets its own.
func newUpstream(t testing.TB, c Config, servers ...string) *Upstream {
	t.Helper()
	c.Servers = servers
	if c.Timeout == 0 {
		// Room for a loopback exchange under -race on a loaded 2-core
		// machine, short enough for the tests that wait one out.
		c.Timeout = time.Second
	}
	u, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// exchange runs u.Exchange under a 5s context and checks the reply's ID.
func exchange(t testing.TB, u *Upstream, req *dns.Msg) (*dns.Msg, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := u.Exchange(ctx, req)
	if err == nil && r.Id != req.Id {
		t.Errorf("reply id %d, want the request's %d", r.Id, req.Id)
	}
	return r, err
}

// mustExchange is exchange that fails the test on an error.
func mustExchange(t testing.TB, u *Upstream, req *dns.Msg) *dns.Msg {
	t.Helper()
	r, err := exchange(t, u, req)
	if err != nil {
		t.Fatalf("exchange %s: %v", req.Question[0].Name, err)
	}
	return r
}

// answerText is r's answer section, one record a line, for comparisons.
func answerText(r *dns.Msg) string {
	var b strings.Builder
	for _, rr := range r.Answer {
		b.WriteString(rr.String())
		b.WriteString("\n")
	}
	return b.String()
}

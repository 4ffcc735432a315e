package tcplimit

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/reuseport"
	"github.com/miekg/dns"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "0", want: []int{0}},
		{in: "0-3", want: []int{0, 1, 2, 3}},
		{in: "0-1,4,6-7", want: []int{0, 1, 4, 6, 7}},
		{in: "", wantErr: true},
		{in: "3-1", wantErr: true},
		{in: "a-b", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "0-99999", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseCPUList(tc.in)
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Errorf("parseCPUList(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// freeAddr returns a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// claimBeside claims addr with cap max, then binds a socket beside it as
// CoreDNS does (SO_REUSEPORT, no CPU); both are closed when the test ends.
func claimBeside(t *testing.T, addr string, max int) (*Claim, net.Listener) {
	t.Helper()
	c, err := ClaimAddress(addr, max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Release() })
	coredns, err := reuseport.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coredns.Close() })
	return c, coredns
}

// TestListenerTakesEveryConnection binds a socket as CoreDNS does
// (SO_REUSEPORT, no CPU) beside a claimed listener: the listener gets
// every connection, and once released, CoreDNS's socket gets them all.
func TestListenerTakesEveryConnection(t *testing.T) {
	addr := freeAddr(t)
	c, coredns := claimBeside(t, addr, 8)
	var theirs atomic.Int64
	go func() {
		for {
			conn, err := coredns.Accept()
			if err != nil {
				return
			}
			theirs.Add(1)
			conn.Close()
		}
	}()
	dial := func(n int) {
		for range n {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				continue // reset so fast that connect saw it: by the listener, not bound
			}
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			conn.Read(make([]byte, 1)) // until closed: by us (reset, not bound) or by CoreDNS's loop
			conn.Close()
		}
	}
	dial(200)
	if n := theirs.Load(); n != 0 {
		t.Errorf("CoreDNS's socket accepted %d of 200 connections beside the listener (%d sockets)", n, c.Listener().Sockets())
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	theirs.Store(0)
	dial(50)
	if n := theirs.Load(); n != 50 {
		t.Errorf("CoreDNS's socket accepted %d of 50 connections once the listener was released", n)
	}
}

// TestUnboundClaimGivesBack: a claim that CoreDNS never binds (its hook
// went to another block on the address) closes its sockets, and CoreDNS's
// socket takes the connections.
func TestUnboundClaimGivesBack(t *testing.T) {
	defer func(d time.Duration) { bindWait = d }(bindWait)
	bindWait = 100 * time.Millisecond
	addr := freeAddr(t)
	c, coredns := claimBeside(t, addr, 8)
	for deadline := time.Now().Add(5 * time.Second); !closed(c.l); {
		if time.Now().After(deadline) {
			t.Fatal("the unbound claim kept its sockets")
		}
		time.Sleep(10 * time.Millisecond)
	}
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			defer conn.Close()
			conn.Write([]byte{0})
		}
	}()
	coredns.(*net.TCPListener).SetDeadline(time.Now().Add(2 * time.Second))
	conn, err := coredns.Accept()
	if err != nil {
		t.Fatalf("CoreDNS's socket: %v", err)
	}
	conn.Close()
}

func closed(l *Listener) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// TestCapEvictsQuietest fills a cap of 4 with silent connections: a fifth
// that asks is answered, and the first silent one is reset for it.
func TestCapEvictsQuietest(t *testing.T) {
	defer func(b bool) { checkOnBind = b }(checkOnBind)
	checkOnBind = false
	addr := freeAddr(t)
	c, err := ClaimAddress(addr, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	c.Bind(newServer(t, addr), func() bool { return true })

	var silent []net.Conn
	for range 4 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		silent = append(silent, conn)
	}
	waitOpen(t, c.Listener(), 4)
	client := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeA)
	r, _, err := client.Exchange(m, addr)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("a client at the cap: %v %v", r, err)
	}
	silent[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := silent[0].Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("the quietest connection was not closed: %v", err)
	}
	silent[3].SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := silent[3].Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("the newest silent connection was closed: %v", err)
	}
	if n := c.Listener().Open(); n > 4 {
		t.Errorf("%d connections open, over the cap of 4", n)
	}
}

// TestSelfCheck: with CoreDNS's socket bound beside the listener, every
// connection of the self-check reaches the listener.
func TestSelfCheck(t *testing.T) {
	defer func(b bool) { checkOnBind = b }(checkOnBind)
	checkOnBind = false
	addr := freeAddr(t)
	c, _ := claimBeside(t, addr, 100)
	c.Bind(newServer(t, addr), func() bool { return true })
	reached, made := c.Listener().SelfCheck(2 * time.Second)
	if made != checkConns || reached != made {
		t.Errorf("self-check: %d of %d connections reached the listener, want %d of %d", reached, made, checkConns, checkConns)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); l.Open() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", l.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newServer is a CoreDNS server for addr whose one plugin answers every
// query with an A record.
func newServer(t *testing.T, addr string) *dnsserver.Server {
	t.Helper()
	cfg := &dnsserver.Config{Zone: ".", Transport: "dns"}
	cfg.AddPlugin(func(plugin.Handler) plugin.Handler { return answerer{} })
	s, err := dnsserver.NewServer("dns://"+addr, []*dnsserver.Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type answerer struct{}

func (answerer) Name() string { return "answerer" }

func (answerer) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	rr, err := dns.NewRR(fmt.Sprintf("%s 30 IN A 192.0.2.1", r.Question[0].Name))
	if err != nil {
		return dns.RcodeServerFailure, err
	}
	m.Answer = []dns.RR{rr}
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
}

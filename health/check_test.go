package health

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// probeOnce runs one check of tg with p, as a worker would.
func probeOnce(t *testing.T, p *Prober, tg Target) error {
	t.Helper()
	dial, err := dialAddress(&tg)
	if err != nil {
		t.Fatal(err)
	}
	return p.check(context.Background(), &target{Target: tg, dial: dial})
}

// TestTCPReset: a TCP probe closes with a reset (SO_LINGER 0), so neither
// side keeps a TIME_WAIT socket.
func TestTCPReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	readErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			readErr <- err
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 1))
		readErr <- err
	}()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	if err := probeOnce(t, NewProber(ProberConfig{}), Target{TargetKey: key("web", addr), Spec: fastSpec(TCP)}); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if err := <-readErr; !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("server read: %v, want a connection reset", err)
	}
}

// TestHTTPRequest checks what HTTP(S) probes send.
func TestHTTPRequest(t *testing.T) {
	plain, secure := newTestServer(t, nil), newTestServer(t, testTLS(t))
	spec := func(c Check, host, path string) Spec {
		s := fastSpec(c)
		s.Host, s.Path, s.Body = host, path, okBody
		return s
	}
	byHost := func(name string, a netip.AddrPort) TargetKey {
		return TargetKey{Key: Key{Cluster: "c1", Namespace: "ns", Name: name}, Host: testHost, Port: a.Port()}
	}
	tests := []struct {
		name string
		srv  *testServer
		tg   Target
		want request
	}{
		{"address as host", plain, Target{key("a", plain.addr), spec(HTTP, "", "")},
			request{host: plain.addr.String(), path: "/"}},
		{"spec host and path", plain, Target{key("a", plain.addr), spec(HTTP, "web.example", "/healthz?deep=1")},
			request{host: "web.example", path: "/healthz?deep=1"}},
		{"https: no server name for an address", secure, Target{key("a", secure.addr), spec(HTTPS, "", "/ready")},
			request{host: secure.addr.String(), path: "/ready"}},
		{"https: spec host is the server name", secure, Target{key("a", secure.addr), spec(HTTPS, "web.example:8443", "/")},
			request{host: "web.example:8443", sni: "web.example", path: "/"}},
		{"hostname target", plain, Target{byHost("a", plain.addr), spec(HTTP, "", "/")},
			request{host: "lb.meridian.test:" + itoa(plain.addr.Port()), path: "/"}},
		{"https hostname target", secure, Target{byHost("a", secure.addr), spec(HTTPS, "", "/")},
			request{host: "lb.meridian.test:" + itoa(secure.addr.Port()), sni: "lb.meridian.test", path: "/"}},
	}
	p := NewProber(ProberConfig{Dialer: resolverDialer(netip.MustParseAddr("127.0.0.1"))})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := probeOnce(t, p, tc.tg); err != nil {
				t.Fatalf("probe: %v", err)
			}
			select {
			case got := <-tc.srv.requests:
				if got != tc.want {
					t.Errorf("server saw %+v, want %+v", got, tc.want)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("server saw no request")
			}
		})
	}
}

func itoa(port uint16) string { return strconv.Itoa(int(port)) }

// TestAllow: probes connect only within Allow, after name resolution.
func TestAllow(t *testing.T) {
	srv := newTestServer(t, nil)
	v6only := []netip.Prefix{netip.MustParsePrefix("::1/128")}
	loop4 := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	literal := key("web", srv.addr)
	byName := TargetKey{Key: literal.Key, Host: testHost, Port: srv.addr.Port()}
	// The name resolves to the server's address; it may not escape Allow.
	resolver := resolverDialer(srv.addr.Addr())
	tests := []struct {
		name     string
		allow    []netip.Prefix
		dialer   Dialer
		k        TargetKey
		allowed  bool
		connects bool // the server sees a connection
	}{
		{"address outside", v6only, nil, literal, false, false},
		{"hostname resolving outside", v6only, resolver, byName, false, false},
		{"address inside", loop4, nil, literal, true, true},
		{"hostname resolving inside", loop4, resolver, byName, true, true},
		{"hostname with one address inside", loop4, resolverDialer(netip.IPv6Loopback(), srv.addr.Addr()), byName, true, true},
		{"no allow list", nil, nil, literal, true, true},
		{"other dialer: checked once connected", v6only, &countingDialer{}, literal, false, true},
		{"other dialer inside", loop4, &countingDialer{}, literal, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.accepted.Load()
			p := NewProber(ProberConfig{Allow: tc.allow, Dialer: tc.dialer})
			err := probeOnce(t, p, Target{TargetKey: tc.k, Spec: fastSpec(TCP)})
			if (err == nil) != tc.allowed || (err != nil && !errors.Is(err, ErrNotAllowed)) {
				t.Errorf("probe: %v, want allowed %v (or ErrNotAllowed)", err, tc.allowed)
			}
			if err != nil && !strings.Contains(err.Error(), "address not allowed for probes: 127.0.0.1") {
				t.Errorf("error %q does not name the refused address", err)
			}
			if got := connectedSince(t, srv, before); got != tc.connects {
				t.Errorf("server saw a connection: %v, want %v", got, tc.connects)
			}
		})
	}
}

// connectedSince reports whether srv accepted a connection since its
// count was before. It connects to srv itself and waits until the server
// has accepted that connection, which comes after any the probe made (the
// kernel queues them in order and one loop accepts them), so the count is
// settled without a sleep.
func connectedSince(t *testing.T, srv *testServer, before int64) bool {
	t.Helper()
	c, err := net.Dial("tcp", srv.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.LocalAddr().String()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		srv.mu.Lock()
		seen := srv.peers[me]
		srv.mu.Unlock()
		if seen {
			return srv.accepted.Load()-before > 1
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not accept the test's own connection within 5s")
		}
	}
}

func TestAllowed(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		addr string
		ok   bool
	}{
		{"10.1.2.3:80", true},
		{"[::ffff:10.1.2.3]:80", true}, // IPv4-mapped counts as IPv4
		{"[2001:db8::1]:443", true},
		{"[2001:db8::1%eth0]:443", true},
		{"192.0.2.1:80", false},
		{"[2001:db9::1]:443", false},
		{"not an address", false},
	}
	for _, tc := range tests {
		err := allowed(allow, tc.addr)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNotAllowed)) {
			t.Errorf("allowed(%q): %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}

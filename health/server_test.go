package health

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serveMode is how a testServer answers HTTP requests.
type serveMode int32

const (
	serveOK        serveMode = iota // 200 with okBody
	serve500                        // 500 with okBody
	serveWrongBody                  // 200 with another body
	serveHang                       // reads the request, never answers
)

const okBody = "meridian-ok"

// request is what a testServer saw of one HTTP request.
type request struct{ host, sni, path string }

// testServer listens on 127.0.0.1 and answers HTTP (or HTTPS with tls) as
// its mode says; TCP probes just connect. stop closes the listener and
// every connection; start listens again on the same port.
type testServer struct {
	t        *testing.T
	tls      *tls.Config
	addr     netip.AddrPort
	mode     atomic.Int32
	accepted atomic.Int64
	requests chan request

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	peers map[string]bool // remote addresses of every connection accepted
	held  int             // while stopped: the socket that keeps the port, else -1
	wg    sync.WaitGroup
}

func newTestServer(t *testing.T, tlsConfig *tls.Config) *testServer {
	t.Helper()
	s := &testServer{t: t, tls: tlsConfig, requests: make(chan request, 64), conns: map[net.Conn]struct{}{}, peers: map[string]bool{}, held: -1}
	lc := net.ListenConfig{Control: reusePort}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = netip.MustParseAddrPort(ln.Addr().String())
	s.serve(ln)
	t.Cleanup(func() {
		s.stop()
		s.wg.Wait()
		if s.held >= 0 {
			syscall.Close(s.held)
		}
	})
	return s
}

func (s *testServer) setMode(m serveMode) { s.mode.Store(int32(m)) }

// start listens again on the server's port, on the socket that kept it.
func (s *testServer) start() {
	s.mu.Lock()
	fd := s.held
	s.held = -1
	s.mu.Unlock()
	ln, err := listenOn(fd)
	if err != nil {
		s.t.Errorf("listen again on %s: %v", s.addr, err)
		return
	}
	s.serve(ln)
}

func (s *testServer) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.peers[c.RemoteAddr().String()] = true
			s.mu.Unlock()
			s.wg.Go(func() { s.handle(c) })
		}
	})
}

// stop closes the listener and every open connection. A socket bound to
// the port before the listener closes keeps it, so no other process can
// take it until start: connections meanwhile are refused.
func (s *testServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		fd, err := reservePort(s.addr)
		if err != nil {
			s.t.Errorf("keep port %s: %v", s.addr, err)
		}
		s.held = fd
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
	}
}

func (s *testServer) handle(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	rw, sni := c, ""
	if s.tls != nil {
		tc := tls.Server(c, s.tls)
		if tc.Handshake() != nil {
			return
		}
		rw, sni = tc, tc.ConnectionState().ServerName
	}
	req, err := http.ReadRequest(bufio.NewReader(rw))
	if err != nil {
		return // a TCP probe, or a client that gave up
	}
	select {
	case s.requests <- request{host: req.Host, sni: sni, path: req.URL.RequestURI()}:
	default:
	}
	status, body := 200, okBody
	switch serveMode(s.mode.Load()) {
	case serveHang:
		_, _ = io.Copy(io.Discard, rw)
		return
	case serve500:
		status = 500
	case serveWrongBody:
		body = "something else"
	}
	fmt.Fprintf(rw, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// testTLS returns a server config with a fresh self-signed certificate.
func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "meridian test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// testHost is the load-balancer hostname of hostname targets in tests;
// resolverDialer resolves it.
const testHost = "lb.meridian.test."

// resolverDialer returns a net.Dialer whose resolver answers every A and
// AAAA query with addrs, without any network: its DNS server is the other
// end of a pipe.
func resolverDialer(addrs ...netip.Addr) *net.Dialer {
	return &net.Dialer{Resolver: &net.Resolver{PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, addrs)
			return client, nil
		}}}
}

// serveDNS answers DNS over a stream (two-byte length, message) on c.
func serveDNS(c net.Conn, addrs []netip.Addr) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		buf := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		q := new(dns.Msg)
		if q.Unpack(buf) != nil || len(q.Question) != 1 {
			return
		}
		r := new(dns.Msg)
		r.SetReply(q)
		qq := q.Question[0]
		for _, a := range addrs {
			hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: 60, Rrtype: qq.Qtype}
			switch {
			case a.Is4() && qq.Qtype == dns.TypeA:
				r.Answer = append(r.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			case a.Is6() && qq.Qtype == dns.TypeAAAA:
				r.Answer = append(r.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			}
		}
		out, err := r.Pack()
		if err != nil {
			return
		}
		binary.BigEndian.PutUint16(n[:], uint16(len(out)))
		if _, err := c.Write(append(n[:], out...)); err != nil {
			return
		}
	}
}

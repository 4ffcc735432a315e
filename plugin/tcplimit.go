package meridian

import (
	"net"
	"strings"
	"sync"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/tcplimit"
)

// tcpCap is the block's cap on concurrent TCP connections (package
// tcplimit): a claim on each of its addresses, taken at startup, and
// bound when CoreDNS starts the address's server.
type tcpCap struct {
	m    *Meridian
	conf *dnsserver.Config
	max  int

	mu     sync.Mutex
	claims map[string]*tcplimit.Claim // by host:port
	bound  map[string]bool
}

// setupTCPCap asks CoreDNS for each of the block's servers as it starts
// them (through the UDP writer decorator hook, the only one CoreDNS
// offers: the server is the same for UDP and TCP), and claims and
// releases the addresses with the instance.
func setupTCPCap(c *caddy.Controller, m *Meridian, conf *dnsserver.Config) {
	tc := &tcpCap{m: m, conf: conf, max: m.cfg.MaxTCPConnections, claims: map[string]*tcplimit.Claim{}, bound: map[string]bool{}}
	prev := conf.UDPDecorateWriterFunc
	conf.UDPDecorateWriterFunc = func(s *dnsserver.Server) dns.DecorateWriter {
		var dw dns.DecorateWriter
		if prev != nil {
			dw = prev(s)
		}
		tc.bind(s)
		return dw
	}
	c.OnStartup(tc.start)
	c.OnShutdown(tc.stop)
}

// start claims the block's addresses. An address the cap cannot take is
// logged and left to CoreDNS's own socket, uncapped.
func (tc *tcpCap) start() error {
	if tc.conf.Transport != "dns" {
		log.Warningf("tcp cap off: the block's transport is %s, not plain DNS", tc.conf.Transport)
		return nil
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, h := range tc.conf.ListenHosts {
		addr := net.JoinHostPort(h, tc.conf.Port)
		c, err := tcplimit.ClaimAddress(addr, tc.max)
		if err != nil {
			log.Warningf("tcp cap off on %s: %v", addr, err)
			continue
		}
		tc.claims[addr] = c
	}
	return nil
}

// stop releases the claims; a reloaded instance that claimed an address
// keeps its socket.
func (tc *tcpCap) stop() error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for addr, c := range tc.claims {
		if err := c.Release(); err != nil {
			log.Warningf("tcp cap on %s: %v", addr, err)
		}
	}
	tc.claims = map[string]*tcplimit.Claim{}
	return nil
}

// bind binds the claim of s's address to s, once (with 'multisocket',
// CoreDNS starts several servers per address).
func (tc *tcpCap) bind(s *dnsserver.Server) {
	addr, ok := strings.CutPrefix(s.Addr, "dns://")
	if !ok {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	c := tc.claims[addr]
	if c == nil || tc.bound[addr] {
		return
	}
	tc.bound[addr] = true
	c.Bind(s, tc.m.serving)
}

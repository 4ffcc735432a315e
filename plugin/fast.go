package meridian

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	coreplugin "github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/fastpath"
	"github.com/meridian-dns/meridian/plugin/rrl"
)

// fastBefore are the plugins that may come before meridian in its block
// while the fast path answers: they do not change a reply, and the fast
// path counts what prometheus counts. Any other plugin that sees the
// query first (log, cache, dnssec, rewrite, acl, ...) keeps every query
// on the chain.
var fastBefore = []string{"prometheus", "errors", "loop"}

// fastPath is the block's UDP fast path (package fastpath): a claim on
// each of its addresses, taken at startup, and bound when CoreDNS starts
// the address's server.
type fastPath struct {
	m       *Meridian
	conf    *dnsserver.Config
	sockets int
	rcvbuf  int // bytes asked for each socket's receive buffer

	mu     sync.Mutex
	claims map[string]*fastpath.Claim // by host:port
	bound  map[string]bool            // the addresses bound (or given back) already
}

// setupFastPath asks CoreDNS for each of the block's UDP servers as it
// starts them (the server's writer decorator hook, any decorator of the
// block still applied), and claims and releases the addresses with the
// instance.
func setupFastPath(c *caddy.Controller, m *Meridian, conf *dnsserver.Config) {
	fp := &fastPath{m: m, conf: conf, sockets: m.cfg.FastPath, rcvbuf: m.cfg.FastPathRcvbuf, claims: map[string]*fastpath.Claim{}, bound: map[string]bool{}}
	prev := conf.UDPDecorateWriterFunc
	conf.UDPDecorateWriterFunc = func(s *dnsserver.Server) dns.DecorateWriter {
		var dw dns.DecorateWriter
		if prev != nil {
			dw = prev(s)
		}
		fp.bind(s, dw)
		return dw
	}
	c.OnStartup(fp.start)
	c.OnShutdown(fp.stop)
}

// start claims the block's addresses. An address the fast path cannot
// take is logged and left to CoreDNS's own socket: the server answers
// either way.
func (fp *fastPath) start() error {
	if fp.conf.Transport != "dns" {
		log.Warningf("fast path off: the block's transport is %s, not plain DNS", fp.conf.Transport)
		return nil
	}
	n := fp.sockets
	if n < 0 {
		n = runtime.GOMAXPROCS(0)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	for _, h := range fp.conf.ListenHosts {
		addr := net.JoinHostPort(h, fp.conf.Port)
		if ip, err := netip.ParseAddr(h); err != nil || ip.IsUnspecified() {
			log.Warningf("fast path off on %s: it needs a 'bind' to a specific address (replies must leave from the address asked)", addr)
			continue
		}
		c, err := fastpath.ClaimAddress(addr, n, fp.rcvbuf)
		if err != nil {
			log.Warningf("fast path off on %s: %v", addr, err)
			continue
		}
		if got := c.ReadBuffer(); got < fp.rcvbuf {
			log.Warningf("%s: fast path receive buffer: %d bytes asked, %d given: raise net.core.rmem_max to at least %d, or bursts the buffer would have held are dropped", addr, fp.rcvbuf, got, fp.rcvbuf)
		}
		fp.claims[c.Addr()] = c
	}
	return nil
}

// stop releases the claims; a reloaded instance that claimed an address
// keeps its sockets.
func (fp *fastPath) stop() error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	for addr, c := range fp.claims {
		if err := c.Release(); err != nil {
			log.Warningf("fast path on %s: %v", addr, err)
		}
	}
	fp.claims = map[string]*fastpath.Claim{}
	return nil
}

// bind binds the claim of s's address, once, if the fast path may answer
// for the block there (fastPlan); if not, it gives the address back to
// CoreDNS's socket.
func (fp *fastPath) bind(s *dnsserver.Server, dw dns.DecorateWriter) {
	addr, ok := strings.CutPrefix(s.Addr, "dns://")
	if !ok {
		return
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	c := fp.claims[addr]
	if c == nil || fp.bound[addr] {
		return // once: with 'multisocket', CoreDNS starts several servers per address
	}
	fp.bound[addr] = true
	plan, err := newFastPlan(s, fp.conf, fp.m.cfg.Zones)
	if err != nil {
		log.Warningf("fast path off on %s: %v", addr, err)
		c.Release()
		delete(fp.claims, addr)
		return
	}
	// A reload's new instance takes the sockets over once it serves
	// (Meridian.serving): until then the old one answers through them.
	c.Bind(s, dw, func() fastpath.Answerer { return fp.m.newFastAnswerer(plan) }, fp.m.serving)
}

// fastPlan is what the fast path knows of the server: per zone of the
// plugin, the other blocks' zones under it, and the CoreDNS metrics of
// its replies.
type fastPlan struct {
	zones map[string]*fastZone
	timed bool // the block has the prometheus plugin: replies are timed
}

type fastZone struct {
	// shadows are zones of other blocks under the zone: their names are
	// not ours to answer.
	shadows []string
	// metrics counts replies in CoreDNS's series when the block has the
	// prometheus plugin: one zone label for the whole zone (fixed), or per
	// name when the plugin's zones include some under it.
	fixed  *fastpath.ZoneMetrics
	labels coreplugin.Zones
	byName map[string]*fastpath.ZoneMetrics
}

// newFastPlan checks that the fast path may answer for the block of conf
// on s (only fastBefore plugins before meridian, no view) and reads the
// server's dispatch.
func newFastPlan(s *dnsserver.Server, conf *dnsserver.Config, zones []string) (*fastPlan, error) {
	if len(conf.FilterFuncs) > 0 {
		return nil, fmt.Errorf("the block has a view")
	}
	i := slices.Index(dnsserver.Directives, pluginName)
	if i < 0 {
		return nil, fmt.Errorf("%s is not in CoreDNS's plugin order", pluginName)
	}
	for _, d := range dnsserver.Directives[:i] {
		if conf.Handler(d) != nil && !slices.Contains(fastBefore, d) {
			return nil, fmt.Errorf("plugin %s comes before %s and must see every query (the fast path allows only %s before it)", d, pluginName, strings.Join(fastBefore, ", "))
		}
	}
	shadows, err := fastpath.Shadows(s, conf, zones)
	if err != nil {
		return nil, err
	}
	var names coreplugin.Zones
	met, _ := conf.Handler("prometheus").(*metrics.Metrics)
	writer := pluginName // the plugin label of responses_total: the one after prometheus
	if met != nil {
		names = met.ZoneNames()
		p := slices.Index(dnsserver.Directives, "prometheus")
		for _, d := range dnsserver.Directives[min(p+1, i) : i+1] {
			if conf.Handler(d) != nil {
				writer = d
				break
			}
		}
	}
	plan := &fastPlan{zones: map[string]*fastZone{}, timed: met != nil}
	for z, under := range shadows {
		fz := &fastZone{shadows: under}
		plan.zones[z] = fz
		if met == nil {
			continue
		}
		label := func(qname string) string {
			if l := names.Matches(qname); l != "" {
				return l
			}
			return "."
		}
		var sub []string // the prometheus plugin's zones under z
		for _, n := range names {
			if n != z && dns.IsSubDomain(z, n) {
				sub = append(sub, n)
			}
		}
		fz.fixed = fastpath.NewZoneMetrics(s.Addr, label(z), writer)
		if len(sub) == 0 {
			continue
		}
		fz.labels, fz.byName = names, map[string]*fastpath.ZoneMetrics{label(z): fz.fixed}
		for _, n := range sub {
			fz.byName[n] = fastpath.NewZoneMetrics(s.Addr, n, writer)
		}
		fz.fixed = nil
	}
	return plan, nil
}

// shadowed reports whether qname is in another block's zone.
func (z *fastZone) shadowed(qname string) bool {
	for _, s := range z.shadows {
		if dns.IsSubDomain(s, qname) {
			return true
		}
	}
	return false
}

// metricsFor returns the CoreDNS metrics of a reply for qname, or nil.
func (z *fastZone) metricsFor(qname string) *fastpath.ZoneMetrics {
	if z.byName == nil {
		return z.fixed
	}
	l := z.labels.Matches(qname)
	if l == "" {
		l = "."
	}
	return z.byName[l]
}

// fastAnswerer is one fast-path socket's answerer: it reads the packet
// (fastpath.Parse), answers what the handler and the authoritative role
// would answer with A or AAAA records (authority.Fast), and writes the
// reply as the chain would (fastpath.AppendReply), counting it in the
// plugin's and CoreDNS's metrics. Anything else goes to the chain.
type fastAnswerer struct {
	serving func() bool // Meridian.serving: the chain answers until then
	limit   *limiter    // response rate limiting, or nil
	zones   []string
	plan    *fastPlan
	fast    *authority.Fast
	q       fastpath.Query
	name    [fastpath.MaxName]byte
}

func (m *Meridian) newFastAnswerer(plan *fastPlan) fastpath.Answerer {
	if m.auth == nil {
		return chainOnly{}
	}
	return &fastAnswerer{serving: m.serving, limit: m.rrl, zones: m.cfg.Zones, plan: plan, fast: m.auth.NewFast()}
}

// chainOnly leaves every packet to the chain (the resolver role).
type chainOnly struct{}

func (chainOnly) Answer([]byte, []byte, netip.AddrPort) ([]byte, bool) { return nil, false }

// Answer implements fastpath.Answerer.
func (x *fastAnswerer) Answer(out, pkt []byte, from netip.AddrPort) ([]byte, bool) {
	if !x.serving() {
		return nil, false // the chain says Not Ready
	}
	var start time.Time
	if x.plan.timed {
		start = time.Now()
	}
	q := &x.q
	if !fastpath.Parse(pkt, q, x.name[:]) || q.Qclass != dns.ClassINET || q.ECSFamily0 {
		return nil, false
	}
	// A view of the name buffer: nothing keeps it past this packet.
	qname := unsafe.String(unsafe.SliceData(q.Name), len(q.Name))
	zone := dnsmsg.MatchZone(x.zones, qname)
	fz := x.plan.zones[zone]
	if fz == nil || fz.shadowed(qname) {
		return nil, false
	}
	src := from.Addr().Unmap()
	client := q.Client
	if !q.ECS {
		client = netip.PrefixFrom(src, src.BitLen())
	}
	recs, ok := x.fast.Answer(qname, zone, q.Qtype, client)
	if !ok {
		return nil, false
	}
	reply := fastpath.AppendReply(out, pkt, q, recs)
	if !fastpath.Fits(len(reply), q) {
		return nil, false // the chain truncates it
	}
	x.fast.Commit()
	if x.limit != nil {
		switch x.limit.check(src, dns.RcodeSuccess, zone, qname, q.Qtype) {
		case rrl.Drop:
			reply = reply[:0] // sent as the chain's limitWriter does: not at all
		case rrl.Slip:
			reply = fastpath.AppendTruncated(reply[:0], pkt, q, recs.Scope)
		}
	}
	if zm := fz.metricsFor(qname); zm != nil {
		zm.Report(!src.Is4(), q.Qtype, q.DO, len(pkt), len(reply), start)
	}
	return reply, true
}

package meridian

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	coreplugin "github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/fastpath"
)

// The binary puts meridian into CoreDNS's plugin order before kubernetes
// (cmd/meridian); the fast path's plan reads it.
func init() {
	if !slices.Contains(dnsserver.Directives, pluginName) {
		i := slices.Index(dnsserver.Directives, "kubernetes")
		dnsserver.Directives = slices.Insert(dnsserver.Directives, i, pluginName)
	}
}

// chainServer is a CoreDNS server for the address with m's block alone,
// as dnsserver.MakeServers builds it, so that ServeDNS is the chain: zone
// dispatch, the ScrubWriter, the plugin.
func chainServer(t testing.TB, m *Meridian) (*dnsserver.Server, *dnsserver.Config) {
	t.Helper()
	cfg := &dnsserver.Config{Zone: m.cfg.Zones[0], ListenHosts: []string{"127.0.0.1"}, Port: "53", Transport: "dns",
		Plugin: []coreplugin.Plugin{func(next coreplugin.Handler) coreplugin.Handler { m.Next = next; return m }}}
	for op := range 16 {
		if op != dns.OpcodeQuery && op != dns.OpcodeNotify {
			cfg.AllowOpcode(op)
		}
	}
	s, err := dnsserver.NewServer("dns://127.0.0.1:53", []*dnsserver.Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

// packetWriter is miekg/dns's UDP response writer as far as a reply's
// bytes go: WriteMsg packs the message as it is.
type packetWriter struct {
	remote net.Addr
	out    []byte
	writes int
}

func (w *packetWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	w.out, w.writes = b, w.writes+1
	return nil
}
func (w *packetWriter) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *packetWriter) RemoteAddr() net.Addr { return w.remote }
func (w *packetWriter) Write(b []byte) (int, error) {
	w.out = append([]byte(nil), b...)
	return len(b), nil
}
func (w *packetWriter) Close() error        { return nil }
func (w *packetWriter) TsigStatus() error   { return nil }
func (w *packetWriter) TsigTimersOnly(bool) {}
func (w *packetWriter) Hijack()             {}
func (w *packetWriter) Network() string     { return "udp" }

// fastCase is one query of the corpus: its packet and its source.
type fastCase struct {
	pkt  []byte
	from netip.AddrPort
}

// fastSources are the query sources: placeable and not, both families.
var fastSources = []netip.AddrPort{
	netip.MustParseAddrPort("127.0.0.1:5300"),
	netip.MustParseAddrPort("81.0.0.9:5300"),
	netip.MustParseAddrPort("[2001:200::9]:5300"),
}

// fastCorpus makes the queries for names: every type of ruleTypes and a
// few more, in the names' case and mixed case, without EDNS, with EDNS of
// several sizes and DO, with and without a cookie, with client-subnet options of every region, of
// both families, /0 and family 0, from each source; then the same
// packets cut and with bytes changed (malformed ones).
func fastCorpus(names []string, r *rand.Rand) []fastCase {
	types := append([]uint16{dns.TypeNS, dns.TypeSOA, dns.TypeHTTPS}, ruleTypes...)
	var out []fastCase
	for _, name := range names {
		for i, qt := range types {
			for j, c := range ruleClients {
				qname := name
				if (i+j)%3 == 0 {
					qname = mixCase(name, r)
				}
				m := new(dns.Msg)
				m.SetQuestion(qname, qt)
				m.Id = uint16(r.Uint32())
				m.RecursionDesired = r.IntN(2) == 0
				m.CheckingDisabled = r.IntN(5) == 0
				switch (i + j) % 5 {
				case 0: // no EDNS
				case 1:
					m.SetEdns0(512, false)
				case 2:
					m.SetEdns0(1232, true)
				default:
					m.SetEdns0(uint16(512+r.IntN(4000)), r.IntN(2) == 0)
				}
				if o := m.IsEdns0(); o != nil && (i+2*j)%4 == 1 {
					o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}) // as dig sends
				}
				if o := m.IsEdns0(); o != nil && c != "" {
					o.Option = append(o.Option, dnsmsg.Subnet(netip.MustParsePrefix(c)))
				}
				if o := m.IsEdns0(); o != nil && c == "" && i%4 == 0 {
					o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: [3]uint16{0, 1, 2}[i%3]})
				}
				pkt, err := m.Pack()
				if err != nil {
					continue
				}
				from := fastSources[(i+j)%len(fastSources)]
				out = append(out, fastCase{pkt, from})
				bad := append([]byte(nil), pkt...)
				switch r.IntN(3) {
				case 0:
					bad = bad[:r.IntN(len(bad))]
				case 1:
					bad[r.IntN(len(bad))] ^= byte(1 << r.IntN(8))
				default:
					bad[r.IntN(len(bad))] = byte(r.Uint32())
				}
				out = append(out, fastCase{bad, from})
			}
		}
	}
	// The common query, many times: A and AAAA with client subnets drawn
	// across the address space.
	for _, name := range names {
		for range 12 {
			m := new(dns.Msg)
			m.SetQuestion(name, []uint16{dns.TypeA, dns.TypeAAAA}[r.IntN(2)])
			m.Id = uint16(r.Uint32())
			m.SetEdns0(1232, r.IntN(4) == 0)
			var a [16]byte
			for i := range a {
				a[i] = byte(r.Uint32())
			}
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte(a[:4])), 8+r.IntN(25))
			if r.IntN(3) == 0 {
				p = netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(33))
			}
			m.IsEdns0().Option = append(m.IsEdns0().Option, dnsmsg.Subnet(p.Masked()))
			if pkt, err := m.Pack(); err == nil {
				out = append(out, fastCase{pkt, fastSources[r.IntN(len(fastSources))]})
			}
		}
	}
	return out
}

func mixCase(s string, r *rand.Rand) string {
	b := []byte(s)
	for i := range b {
		if b[i] >= 'a' && b[i] <= 'z' && r.IntN(2) == 0 {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// TestFastPathEqualsChain is the fast path's equivalence proof: for a
// corpus of generated queries over the rule federations and generated
// ones (every level, every policy, degraded and fail-open services,
// hosts), the fast path's reply is the chain's reply, byte for byte, or
// the fast path leaves the packet to the chain. Each packet goes both
// ways with the same draw replayed. Malformed packets are among them.
// Both with the database's networks as scopes and widened ones.
func TestFastPathEqualsChain(t *testing.T) {
	for _, wide := range []bool{false, true} {
		t.Run(fmt.Sprintf("ecs_scope widened=%v", wide), func(t *testing.T) { fastEqualsChain(t, wide) })
	}
}

func fastEqualsChain(t *testing.T, wide bool) {
	feds := ruleFederations()
	for seed := range 4 {
		feds = append(feds, namedFed{fmt.Sprintf("generated-%d", seed), generateFederation(uint64(seed)), false})
	}
	total, fast := 0, 0
	defer func() {
		t.Logf("%d queries, %d answered by the fast path, all equal to the chain's", total, fast)
		if total < 100000 && !testing.Short() {
			t.Errorf("only %d queries in the corpus, want at least 100,000", total)
		}
	}()
	for fi, f := range feds {
		t.Run(f.name, func(t *testing.T) {
			m := newFederationPlugin(t, f.clusters, func(c *Config) { c.WidenScopes = wide })
			s, cfg := chainServer(t, m)
			plan, err := newFastPlan(s, cfg, m.cfg.Zones)
			if err != nil {
				t.Fatal(err)
			}
			x := m.newFastAnswerer(plan)
			names := ruleNames(m)
			names = append(names, "nothing.example.com.", "ns1.example.com.", "example.com.", "other.example.org.",
				"a.b.c.d.e.f.example.com.", "_http._tcp.example.com.")
			r := rand.New(rand.NewPCG(uint64(fi), 15))
			corpus := append(fastCorpus(names, r), fastCorpus(names, r)...) // two draws of case, flags and EDNS
			if testing.Short() {
				corpus = corpus[:len(corpus)/5]
			}
			out := make([]byte, 0, 4096)
			for _, c := range corpus {
				draw := ruleDraws[total%len(ruleDraws)]
				m.auth.SetRandom(func() uint64 { return draw })
				m.auth.SetSeq(draw)
				reply, ok := x.Answer(out[:0], c.pkt, c.from)
				total++
				if !ok {
					continue
				}
				fast++
				m.auth.SetSeq(draw)
				want, err := chainReply(s, c)
				if err != nil {
					t.Fatalf("packet %x: the fast path answered what the chain does not: %v", c.pkt, err)
				}
				if !bytes.Equal(reply, want) {
					got, wantMsg := new(dns.Msg), new(dns.Msg)
					got.Unpack(reply)
					wantMsg.Unpack(want)
					t.Fatalf("packet %x from %v:\nfast path %x\n%v\nchain     %x\n%v", c.pkt, c.from, reply, got, want, wantMsg)
				}
			}
		})
	}
	if fast == 0 {
		t.Error("the fast path answered nothing")
	}
}

// chainReply serves c as miekg/dns's server and CoreDNS's serve it:
// accepted by the accept function, unpacked, through the server's
// ServeDNS, and packed.
func chainReply(s *dnsserver.Server, c fastCase) ([]byte, error) {
	var h dns.Header
	if len(c.pkt) < 12 {
		return nil, fmt.Errorf("short")
	}
	h.Id = uint16(c.pkt[0])<<8 | uint16(c.pkt[1])
	h.Bits = uint16(c.pkt[2])<<8 | uint16(c.pkt[3])
	h.Qdcount = uint16(c.pkt[4])<<8 | uint16(c.pkt[5])
	h.Ancount = uint16(c.pkt[6])<<8 | uint16(c.pkt[7])
	h.Nscount = uint16(c.pkt[8])<<8 | uint16(c.pkt[9])
	h.Arcount = uint16(c.pkt[10])<<8 | uint16(c.pkt[11])
	if a := fastpath.AcceptMessage(h); a != dns.MsgAccept {
		return nil, fmt.Errorf("not accepted: %v", a)
	}
	msg := new(dns.Msg)
	if err := msg.Unpack(c.pkt); err != nil {
		return nil, err
	}
	w := &packetWriter{remote: net.UDPAddrFromAddrPort(c.from)}
	ctx := context.WithValue(context.Background(), dnsserver.Key{}, s)
	ctx = context.WithValue(ctx, dnsserver.LoopKey{}, 0)
	s.ServeDNS(ctx, w, msg)
	if w.writes != 1 {
		return nil, fmt.Errorf("%d replies", w.writes)
	}
	return w.out, nil
}

// TestFastPlan checks what the fast path reads of the server: a zone of
// another block under ours takes its names; a zone of another block
// between ours and the block's keeps all of ours from the fast path; a
// plugin that must see every query keeps the whole block on the chain.
func TestFastPlan(t *testing.T) {
	m := newTestPlugin(t)
	block := []coreplugin.Plugin{func(next coreplugin.Handler) coreplugin.Handler { m.Next = next; return m }}
	other := []coreplugin.Plugin{func(coreplugin.Handler) coreplugin.Handler { return whoHandler{} }}
	ours := &dnsserver.Config{Zone: "com.", Transport: "dns", Plugin: block}
	sub := &dnsserver.Config{Zone: "sub.example.com.", Transport: "dns", Plugin: other}
	s, err := dnsserver.NewServer("dns://127.0.0.1:53", []*dnsserver.Config{ours, sub})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := newFastPlan(s, ours, []string{"example.com.", "example.org."})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plan.zones["example.org."]; ok {
		t.Error("example.org. is in no zone of the server, yet planned")
	}
	z := plan.zones["example.com."]
	if z == nil || !z.shadowed("a.sub.example.com.") || z.shadowed("a.example.com.") {
		t.Errorf("example.com. plan %+v: want sub.example.com. names shadowed, others not", z)
	}

	between := &dnsserver.Config{Zone: "example.com.", Transport: "dns", Plugin: other}
	s2, err := dnsserver.NewServer("dns://127.0.0.1:53", []*dnsserver.Config{{Zone: "com.", Transport: "dns", Plugin: block}, between})
	if err != nil {
		t.Fatal(err)
	}
	plan, err = newFastPlan(s2, ours, []string{"example.com."})
	if err != nil || plan.zones["example.com."] != nil {
		t.Errorf("a zone of another block between ours and the name: plan %v, err %v; want the zone left out", plan, err)
	}
}

// whoHandler is another block's plugin.
type whoHandler struct{}

func (whoHandler) ServeDNS(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
	return dns.RcodeRefused, nil
}
func (whoHandler) Name() string { return "whoami" }

// BenchmarkFastAnswer is the fast path's work for the common query (a
// global A with a client subnet), without the sockets, with CoreDNS's
// metrics counted (the block has the prometheus plugin) and without.
func BenchmarkFastAnswer(b *testing.B) {
	for _, metrics := range []bool{true, false} {
		b.Run(fmt.Sprintf("prometheus=%v", metrics), func(b *testing.B) { benchFastAnswer(b, metrics) })
	}
}

func benchFastAnswer(b *testing.B, metrics bool) {
	m := newTestPlugin(b)
	s, cfg := chainServer(b, m)
	plan, err := newFastPlan(s, cfg, m.cfg.Zones)
	if err != nil {
		b.Fatal(err)
	}
	if metrics {
		for z, fz := range plan.zones {
			fz.fixed = fastpath.NewZoneMetrics(s.Addr, z, pluginName)
		}
	}
	x := m.newFastAnswerer(plan)
	q := query("nginx.default.myfed.svc.example.com.", dns.TypeA, "81.0.0.0/24")
	pkt, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	from := netip.MustParseAddrPort("192.0.2.1:5353")
	out := make([]byte, 0, 1232)
	if _, ok := x.Answer(out, pkt, from); !ok {
		b.Fatal("not answered")
	}
	b.ReportAllocs()
	for b.Loop() {
		x.Answer(out[:0], pkt, from)
	}
}

// TestWidenedScopesHold is the proof of widened scopes (ecs_scope
// widened): for every global name of the rule federations and generated
// ones, and client networks across the test database's places, the
// reply's scope names a network in which every other client, asked at
// random /24s inside it, gets the same reply (records, order, scope):
// what a resolver caching the reply for that network will serve them. And
// the scopes do widen.
func TestWidenedScopesHold(t *testing.T) {
	feds := ruleFederations()
	for seed := range 2 {
		feds = append(feds, namedFed{fmt.Sprintf("generated-%d", seed), generateFederation(uint64(seed)), false})
	}
	db := patchworkDB(t)
	var clients []string
	for x := 0; x < 256; x += 5 {
		clients = append(clients, fmt.Sprintf("81.2.%d.0/24", x), fmt.Sprintf("2001:db8:%02x00::/56", x))
	}
	widened, checked := map[bool]int{}, 0 // widened replies by family (IPv6: true)
	for fi, f := range feds {
		t.Run(f.name, func(t *testing.T) {
			m := newFederationPlugin(t, f.clusters, func(c *Config) { c.WidenScopes, c.GeoIP = true, db })
			snap := m.pipe.Snapshot()
			ask := func(name string, qt uint16, client netip.Prefix) *dns.Msg {
				m.auth.SetRandom(func() uint64 { return 1 })
				m.auth.SetSeq(1)
				rec := dnstest.NewRecorder(&test.ResponseWriter{})
				q := new(dns.Msg)
				q.SetQuestion(name, qt)
				q.SetEdns0(1232, false)
				q.IsEdns0().Option = append(q.IsEdns0().Option, dnsmsg.Subnet(client))
				m.ServeDNS(context.Background(), rec, q)
				return rec.Msg
			}
			// Wait for the table of this snapshot's locations.
			deadline := time.Now().Add(10 * time.Second)
			for !m.locator.Widened(snap.Locations) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if !m.locator.Widened(snap.Locations) {
				t.Fatal("the scope table was not built in 10 s")
			}
			r := rand.New(rand.NewPCG(uint64(fi), 3))
			for _, name := range ruleNames(m) {
				if dns.CountLabel(name) != 6 { // <svc>.<ns>.myfed.svc.example.com.: the global level
					continue
				}
				for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
					for _, c := range clients {
						client := netip.MustParsePrefix(c)
						first := ask(name, qt, client)
						scope := explainScope(first)
						if scope < 0 || scope >= client.Bits() {
							continue
						}
						widened[client.Addr().Is6()]++
						w := netip.PrefixFrom(client.Addr(), scope).Masked()
						for range 8 {
							// Another client network of the same length
							// inside w, at random.
							b := w.Addr().AsSlice()
							for i := scope; i < client.Bits(); i++ {
								if r.IntN(2) == 1 {
									b[i/8] |= 0x80 >> (i % 8)
								}
							}
							a, _ := netip.AddrFromSlice(b)
							other := netip.PrefixFrom(a, client.Bits())
							again := ask(name, qt, other)
							checked++
							if fmt.Sprint(again.Answer) != fmt.Sprint(first.Answer) || explainScope(again) != scope {
								t.Fatalf("%s %s: client %s got scope /%d (%s) and %v; client %s inside it got scope /%d and %v",
									name, dns.TypeToString[qt], c, scope, w, first.Answer, other, explainScope(again), again.Answer)
							}
						}
					}
				}
			}
		})
	}
	t.Logf("%d IPv4 and %d IPv6 widened replies, %d other clients inside them, all answered the same", widened[false], widened[true], checked)
	if widened[false] == 0 || widened[true] == 0 {
		t.Errorf("widened replies: %d IPv4, %d IPv6; want some of each", widened[false], widened[true])
	}
}

// patchworkDB writes a City database in which 81.2.0.0/16 is 256 /24s
// and 2001:db8::/32 256 /40s, each in one of eleven cities across the
// world or of no known place (seeded): neighbours that share their nearest data center often differ
// in the next, so a table that merged by the nearest alone would be
// caught by TestWidenedScopesHold.
func patchworkDB(t testing.TB) string {
	t.Helper()
	cities := [][2]float64{{41.88, -87.63}, {40.71, -74.01}, {34.05, -118.24}, {48.86, 2.35}, {50.11, 8.68},
		{51.51, -0.13}, {25.03, 121.57}, {35.68, 139.65}, {1.35, 103.82}, {-33.87, 151.21}, {-23.55, -46.63}}
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	// The same patchwork in IPv4 (81.2.0.0/16 as /24s) and in IPv6
	// (2001:db8::/32 as /40s).
	for _, format := range []string{"81.2.%d.0/24", "2001:db8:%02x00::/40"} {
		r := rand.New(rand.NewPCG(7, 7))
		for x := range 256 {
			_, n, _ := net.ParseCIDR(fmt.Sprintf(format, x))
			rec := mmdbtype.Map{}
			// Runs of one place, so that siblings merge, broken often.
			if i := r.IntN(len(cities) + 1); i < len(cities) {
				c := cities[(i+x/4)%len(cities)]
				if x%4 != 0 {
					c = cities[(x/4)%len(cities)]
				}
				rec["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(c[0]), "longitude": mmdbtype.Float64(c[1])}
			}
			if err := tree.Insert(n, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "patchwork.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

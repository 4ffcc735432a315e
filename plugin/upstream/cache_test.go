package upstream

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/promtest"
)

// serve answers with the reply to r that fill completes. The reply starts
// with SetReply(r) and a copy of r's OPT record, if any.
func serve(fill func(r, m *dns.Msg)) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if o := r.IsEdns0(); o != nil {
			m.Extra = append(m.Extra, dns.Copy(o))
		}
		fill(r, m)
		_ = w.WriteMsg(m)
	}
}

// answer adds rrs to the answer section.
func answer(rrs ...string) func(r, m *dns.Msg) {
	return func(_, m *dns.Msg) {
		for _, s := range rrs {
			m.Answer = append(m.Answer, mustRR(s))
		}
	}
}

// scoped sets the reply's ECS scope, after f.
func scoped(scope uint8, f func(r, m *dns.Msg)) func(r, m *dns.Msg) {
	return func(r, m *dns.Msg) {
		f(r, m)
		if e := subnet(m.IsEdns0()); e != nil {
			e.SourceScope = scope
		}
	}
}

// negative makes the reply rcode with rrs in the authority section.
func negative(rcode int, rrs ...string) func(r, m *dns.Msg) {
	return func(_, m *dns.Msg) {
		m.Rcode = rcode
		for _, s := range rrs {
			m.Ns = append(m.Ns, mustRR(s))
		}
	}
}

// noECS removes the client subnet option from the reply, after f.
func noECS(f func(r, m *dns.Msg)) func(r, m *dns.Msg) {
	return func(r, m *dns.Msg) {
		f(r, m)
		if opt := m.IsEdns0(); opt != nil {
			opt.Option = nil
		}
	}
}

const soaTTL300Min30 = "example.org. 300 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 30"

// withEDNS adds an OPT record to m, with the DO bit do.
func withEDNS(m *dns.Msg, do bool) *dns.Msg {
	m.SetEdns0(1232, do)
	return m
}

func TestCacheRules(t *testing.T) {
	a := func() *dns.Msg { return query("www.example.org.", dns.TypeA) }
	ecs := func(ip string) *dns.Msg { return withECS(a(), ip, 24, 0) }
	cd := a()
	cd.CheckingDisabled = true
	ch := a()
	ch.Question[0].Qclass = dns.ClassCHAOS
	tests := []struct {
		name          string
		fill          func(r, m *dns.Msg)
		first, second *dns.Msg
		maxTTL        time.Duration
		advance       time.Duration
		calls         int // queries upstream saw for the two requests
	}{
		{"positive: cached", answer(answerA), a(), a(), 0, 59 * time.Second, 1},
		{"positive: expired at its TTL", answer(answerA), a(), a(), 0, 60 * time.Second, 2},
		{"TTL 0: not cached", answer("www.example.org. 0 IN A 192.0.2.1"), a(), a(), 0, 0, 2},
		{"short TTL in the additional section bounds the entry",
			func(r, m *dns.Msg) {
				answer(answerA)(r, m)
				m.Extra = append(m.Extra, mustRR("ns.example.org. 10 IN A 192.0.2.53"))
			}, a(), a(), 0, 10 * time.Second, 2},
		{"MaxTTL caps the entry", answer("www.example.org. 3600 IN A 192.0.2.1"),
			a(), a(), 100 * time.Second, 100 * time.Second, 2},
		{"ECS scope 24: not cached", scoped(24, answer(answerA)), ecs("10.1.0.0"), ecs("10.1.0.0"), 0, 0, 2},
		{"ECS scope 0: cached, served to another subnet", scoped(0, answer(answerA)),
			ecs("10.1.0.0"), ecs("10.2.0.0"), 0, 0, 1},
		{"ECS scope 0: served without ECS", scoped(0, answer(answerA)), ecs("10.1.0.0"), a(), 0, 0, 1},
		{"no ECS in the reply to an ECS query: cached", noECS(answer(answerA)), ecs("10.1.0.0"),
			ecs("10.2.0.0"), 0, 0, 1},
		{"NXDOMAIN after a CNAME: the SOA minimum still bounds it", func(r, m *dns.Msg) {
			answer("www.example.org. 600 IN CNAME gone.example.org.")(r, m)
			negative(dns.RcodeNameError, soaTTL300Min30)(r, m)
		}, a(), a(), 0, 30 * time.Second, 2},
		{"NXDOMAIN: cached for the SOA minimum", negative(dns.RcodeNameError, soaTTL300Min30),
			a(), a(), 0, 29 * time.Second, 1},
		{"NXDOMAIN: expired at the SOA minimum", negative(dns.RcodeNameError, soaTTL300Min30),
			a(), a(), 0, 30 * time.Second, 2},
		{"NXDOMAIN: SOA TTL below its minimum", negative(dns.RcodeNameError,
			"example.org. 10 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 30"),
			a(), a(), 0, 10 * time.Second, 2},
		{"NXDOMAIN without SOA: not cached", negative(dns.RcodeNameError), a(), a(), 0, 0, 2},
		{"NODATA with SOA: cached", negative(dns.RcodeSuccess, soaTTL300Min30), a(), a(), 0, 29 * time.Second, 1},
		{"NODATA without SOA: not cached", negative(dns.RcodeSuccess), a(), a(), 0, 0, 2},
		{"SERVFAIL: not cached", negative(dns.RcodeServerFailure, soaTTL300Min30), a(), a(), 0, 0, 2},
		{"truncated: not cached (udp then tcp, twice)",
			func(r, m *dns.Msg) { answer(answerA)(r, m); m.Truncated = true }, a(), a(), 0, 0, 4},
		{"qtype is in the key", answer(answerA), a(), query("www.example.org.", dns.TypeAAAA), 0, 0, 2},
		{"qclass is in the key", answer(answerA), a(), ch, 0, 0, 2},
		{"DO bit is in the key", answer(answerA), a(), withEDNS(a(), true), 0, 0, 2},
		{"CD bit is in the key", answer(answerA), a(), cd, 0, 0, 2},
		{"qname case does not matter", answer(answerA), query("WWW.Example.ORG.", dns.TypeA), a(), 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, serve(tt.fill))
			clk := clock.NewFake(epoch)
			u := newUpstream(t, Config{CacheSize: 16, MaxTTL: tt.maxTTL, Clock: clk}, s.addr)
			mustExchange(t, u, tt.first)
			clk.Advance(tt.advance)
			mustExchange(t, u, tt.second)
			if got := s.calls(); got != tt.calls {
				t.Errorf("upstream saw %d queries, want %d", got, tt.calls)
			}
		})
	}
}

func TestCacheHitReply(t *testing.T) {
	s := startServer(t, serve(func(r, m *dns.Msg) {
		if r.Question[0].Qtype == dns.TypeA {
			answer(answerA, "www.example.org. 90 IN TXT \"x\"")(r, m)
			return
		}
		negative(dns.RcodeSuccess, soaTTL300Min30)(r, m)
	}))
	clk := clock.NewFake(epoch)
	u := newUpstream(t, Config{CacheSize: 16, Clock: clk}, s.addr)
	mustExchange(t, u, query("www.example.org.", dns.TypeA))
	mustExchange(t, u, query("www.example.org.", dns.TypeAAAA))
	clk.Advance(20*time.Second + 700*time.Millisecond)

	req := query("WWW.example.org.", dns.TypeA)
	req.Id, req.RecursionDesired = 777, true
	r := mustExchange(t, u, req)
	if s.calls() != 2 {
		t.Fatalf("upstream saw %d queries, want 2 (a hit)", s.calls())
	}
	if r.Question[0].Name != "WWW.example.org." || !r.RecursionDesired || !r.Response {
		t.Errorf("hit: question %v rd %v qr %v; want the request's question and RD", r.Question, r.RecursionDesired, r.Response)
	}
	if r.Answer[0].Header().Ttl != 40 || r.Answer[1].Header().Ttl != 70 {
		t.Errorf("TTLs %d, %d after 20.7s; want 40, 70", r.Answer[0].Header().Ttl, r.Answer[1].Header().Ttl)
	}

	// The reply is the caller's: changing it leaves the entry alone.
	r.Answer[0].(*dns.A).A[3] = 99
	r.Answer[0].Header().Ttl = 9999
	again := mustExchange(t, u, req)
	if a := again.Answer[0].(*dns.A); a.A.String() != "192.0.2.1" || a.Hdr.Ttl != 40 {
		t.Errorf("second hit %v: the first hit's caller changed the entry", a)
	}

	// Negative: the SOA's TTL is its minimum, decremented.
	neg := mustExchange(t, u, query("www.example.org.", dns.TypeAAAA))
	if len(neg.Ns) != 1 || neg.Ns[0].Header().Ttl != 10 {
		t.Errorf("negative hit authority %v, want the SOA with TTL 30-20 = 10", neg.Ns)
	}
}

func TestCacheHitEDNS(t *testing.T) {
	s := startServer(t, serve(scoped(0, func(r, m *dns.Msg) {
		answer(answerA)(r, m)
		if opt := m.IsEdns0(); opt != nil {
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708aabbccddeeff0011"})
		}
	})))
	u := newUpstream(t, Config{CacheSize: 16}, s.addr)
	first := mustExchange(t, u, withECS(query("www.example.org.", dns.TypeA), "10.1.0.0", 24, 0))
	if e := subnet(first.IsEdns0()); e == nil || e.Address.String() != "10.1.0.0" {
		t.Fatalf("miss: ECS %v, want the upstream's echo of 10.1.0.0/24", e)
	}
	tests := []struct {
		name    string
		req     *dns.Msg
		wantECS string // "" for none
	}{
		{"other subnet: its own ECS, scope 0", withECS(query("www.example.org.", dns.TypeA), "10.2.3.0", 24, 0), "10.2.3.0/24/0"},
		{"IPv6 subnet", withECS(query("www.example.org.", dns.TypeA), "2001:db8::", 48, 0), "[2001:db8::]/48/0"},
		{"EDNS without ECS", withEDNS(query("www.example.org.", dns.TypeA), false), ""},
		{"no EDNS: no OPT", query("www.example.org.", dns.TypeA), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustExchange(t, u, tt.req)
			opt := r.IsEdns0()
			if (opt != nil) != (tt.req.IsEdns0() != nil) {
				t.Fatalf("reply OPT %v for request OPT %v", opt, tt.req.IsEdns0())
			}
			got := ""
			if e := subnet(opt); e != nil {
				got = e.String()
			}
			if got != tt.wantECS {
				t.Errorf("ECS %q, want %q", got, tt.wantECS)
			}
			if opt != nil {
				for _, o := range opt.Option {
					if o.Option() == dns.EDNS0COOKIE {
						t.Errorf("cached reply carries the first client's cookie %v", o)
					}
				}
			}
		})
	}
	if s.calls() != 1 {
		t.Errorf("upstream saw %d queries, want 1", s.calls())
	}
}

func TestStorable(t *testing.T) {
	req := query("www.example.org.", dns.TypeA)
	ok := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = append(m.Answer, mustRR(answerA))
		return m
	}
	other := ok()
	other.Question[0].Name = "other.example.org."
	tc := ok()
	tc.Truncated = true
	refused := ok()
	refused.Rcode = dns.RcodeRefused
	tests := []struct {
		name string
		r    *dns.Msg
		want bool
	}{
		{"plain answer", ok(), true},
		{"other question", other, false},
		{"truncated", tc, false},
		{"REFUSED", refused, false},
		{"ECS scope 16", scopedMsg(ok(), 16), false},
		{"ECS scope 0", scopedMsg(ok(), 0), true},
	}
	for _, tt := range tests {
		if got := storable(req, tt.r); got != tt.want {
			t.Errorf("%s: storable %v, want %v", tt.name, got, tt.want)
		}
	}
}

func scopedMsg(m *dns.Msg, scope uint8) *dns.Msg {
	return withECS(m, "10.1.0.0", 16, scope)
}

func TestCacheMetricsAndBound(t *testing.T) {
	s := startServer(t, serve(func(r, m *dns.Msg) {
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   []byte{192, 0, 2, 1},
		})
	}))
	reg := prometheus.NewPedanticRegistry()
	clk := clock.NewFake(epoch)
	u := newUpstream(t, Config{CacheSize: 2, Clock: clk, Registerer: reg}, s.addr)
	for _, name := range []string{"a.example.org.", "b.example.org.", "a.example.org.", "c.example.org.", "b.example.org."} {
		mustExchange(t, u, query(name, dns.TypeA))
	}
	promtest.Check(t, reg, map[string]float64{
		"meridian_upstream_cache_hits_total":   1, // a
		"meridian_upstream_cache_misses_total": 4, // a b c, and b evicted by c
		"meridian_upstream_cache_entries":      2,
	})
	clk.Advance(time.Minute)
	mustExchange(t, u, query("c.example.org.", dns.TypeA)) // expired: removed, then stored again
	promtest.Check(t, reg, map[string]float64{
		"meridian_upstream_cache_misses_total": 5,
		"meridian_upstream_cache_entries":      2,
	})
	if s.calls() != 5 {
		t.Errorf("upstream saw %d queries, want 5", s.calls())
	}
}

// TestForget: a forgotten reply is asked again; the other entries stay.
func TestForget(t *testing.T) {
	s := startServer(t, serve(answer(answerA)))
	u := newUpstream(t, Config{CacheSize: 16}, s.addr)
	a, aaaa := query("www.example.org.", dns.TypeA), query("www.example.org.", dns.TypeAAAA)
	mustExchange(t, u, a)
	mustExchange(t, u, aaaa)
	u.Forget(query("WWW.example.org.", dns.TypeA)) // the key ignores case
	mustExchange(t, u, a)
	mustExchange(t, u, aaaa)
	if s.calls() != 3 {
		t.Errorf("upstream saw %d queries, want 3: the forgotten A again, the AAAA from the cache", s.calls())
	}
	newUpstream(t, Config{}, s.addr).Forget(a) // no cache: nothing to do
}

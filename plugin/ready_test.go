package meridian

import (
	"context"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
)

// TestNotReadyUntilReady: before the plugin is first ready (here: before
// its first snapshot), a query in its zones gets SERVFAIL with Extended
// DNS Error 14 (Not Ready) when it has EDNS, a plain SERVFAIL without, and
// the fast path leaves it to the chain; a query outside its zones is not
// its business. Once ready, it answers, and stays answering.
func TestNotReadyUntilReady(t *testing.T) {
	base := newTestPlugin(t)
	m := assembled(t, base.cfg, base.locator)
	for _, c := range testClusters {
		m.pipe.Sink().Update(c.name, source.Fixed(testObjects(c)))
		m.pipe.Sink().SetState(c.name, health.Up)
	}
	const name = "nginx.default.myfed.svc.example.com."
	ask := func(r *dns.Msg) *dns.Msg {
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		m.ServeDNS(context.Background(), rec, r)
		return rec.Msg
	}
	r := ask(query(name, dns.TypeA, "81.0.0.0/24"))
	if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Fatalf("before ready: %v, want SERVFAIL", r)
	}
	if code, ok := edeCode(r); !ok || code != dns.ExtendedErrorCodeNotReady {
		t.Errorf("before ready: EDE %d (%v), want 14 (Not Ready)", code, ok)
	}
	if r := ask(query(name, dns.TypeA, "")); r.Rcode != dns.RcodeServerFailure || r.IsEdns0() != nil {
		t.Errorf("before ready, no EDNS: %v, want a plain SERVFAIL", r)
	}
	pkt, err := query(name, dns.TypeA, "81.0.0.0/24").Pack()
	if err != nil {
		t.Fatal(err)
	}
	s, cfg := chainServer(t, m)
	plan, err := newFastPlan(s, cfg, m.cfg.Zones)
	if err != nil {
		t.Fatal(err)
	}
	fast := m.newFastAnswerer(plan)
	from := netip.MustParseAddrPort("192.0.2.1:5353")
	if _, ok := fast.Answer(nil, pkt, from); ok {
		t.Error("before ready, the fast path answered")
	}

	m.pipe.Rebuild()
	if r := ask(query(name, dns.TypeA, "81.0.0.0/24")); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("ready: %v, want an answer", r)
	}
	if _, ok := fast.Answer(nil, pkt, from); !ok {
		t.Error("ready: the fast path did not answer")
	}
	m.pipe.Sink().Update("asia-east1-a", source.Fixed(source.Objects{})) // a change pending: not ready, still serving
	if m.Ready() {
		t.Fatal("ready with a change pending")
	}
	if r := ask(query(name, dns.TypeA, "81.0.0.0/24")); r.Rcode != dns.RcodeSuccess {
		t.Errorf("once ready, with a change pending: %v, want an answer", r)
	}
}

// TestReadySpeaksForEveryBlock: CoreDNS's ready plugin asks one meridian
// block of the several a process runs (it keys by plugin name), so each
// says ready only when all are; each block still starts answering on its
// own readiness.
func TestReadySpeaksForEveryBlock(t *testing.T) {
	base := newTestPlugin(t)
	synced, pending := assembled(t, base.cfg, base.locator), assembled(t, base.cfg, base.locator)
	for _, m := range []*Meridian{synced, pending} {
		instances.add(m)
		t.Cleanup(func() { instances.remove(m) })
	}
	for _, c := range testClusters {
		synced.pipe.Sink().Update(c.name, source.Fixed(testObjects(c)))
		synced.pipe.Sink().SetState(c.name, health.Up)
	}
	synced.pipe.Rebuild()
	if !synced.ready() {
		t.Fatal("the synced block is not ready itself")
	}
	if synced.Ready() || pending.Ready() {
		t.Errorf("Ready: synced %v, pending %v; want false for both while one block is pending", synced.Ready(), pending.Ready())
	}
	if !synced.serving() || pending.serving() {
		t.Errorf("serving: synced %v, pending %v; want each on its own readiness", synced.serving(), pending.serving())
	}
	for _, c := range testClusters {
		pending.pipe.Sink().Update(c.name, source.Fixed(testObjects(c)))
		pending.pipe.Sink().SetState(c.name, health.Up)
	}
	pending.pipe.Rebuild()
	if !synced.Ready() || !pending.Ready() {
		t.Errorf("Ready: synced %v, pending %v once both are synced; want true", synced.Ready(), pending.Ready())
	}
}

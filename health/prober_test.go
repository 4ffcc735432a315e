package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/promtest"
)

// checkSequence checks every result of one target against rise/fall
// counting from the first result on: the first result sets the state, the
// target goes down exactly at the fall-th failure in a row and up exactly
// at the rise-th pass in a row, and nothing changes in between. It returns
// how many times it went up and down.
func checkSequence(t *testing.T, rs []Result, rise, fall int) (ups, downs int) {
	t.Helper()
	up, run := true, 0
	for i, r := range rs {
		if i > 0 && r.OK == rs[i-1].OK {
			run++
		} else {
			run = 1
		}
		want := up
		switch {
		case i == 0:
			want = r.OK
		case r.OK && run == rise, !r.OK && run == fall:
			want = r.OK
		}
		if r.Up != want || r.Changed != (want != up) {
			t.Errorf("result %d (ok %v, %d in a row): up %v changed %v, want %v %v; sequence %s",
				i, r.OK, run, r.Up, r.Changed, want, want != up, seq(rs))
		}
		switch {
		case r.Changed && r.Up:
			ups++
		case r.Changed:
			downs++
		}
		up = want
	}
	return ups, downs
}

// TestProberSequence takes real targets on 127.0.0.1 down and back up and
// checks each result.
func TestProberSequence(t *testing.T) {
	stop := func(s *testServer) { s.stop() }
	start := func(s *testServer) { s.start() }
	mode := func(m serveMode) func(*testServer) { return func(s *testServer) { s.setMode(m) } }
	tests := []struct {
		name      string
		check     Check
		fail, fix func(*testServer)
		wantErr   error // what every failure wraps
	}{
		{"tcp listener closed", TCP, stop, start, syscall.ECONNREFUSED},
		{"http listener closed", HTTP, stop, start, syscall.ECONNREFUSED},
		{"http hangs", HTTP, mode(serveHang), mode(serveOK), ErrTimeout},
		{"http 500", HTTP, mode(serve500), mode(serveOK), ErrStatus},
		{"http wrong body", HTTP, mode(serveWrongBody), mode(serveOK), ErrBody},
		{"https 500", HTTPS, mode(serve500), mode(serveOK), ErrStatus},
		{"https hangs", HTTPS, mode(serveHang), mode(serveOK), ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tlsConfig = testTLS(t)
			if tc.check != HTTPS {
				tlsConfig = nil
			}
			srv := newTestServer(t, tlsConfig)
			rs := newResults()
			p := startProber(t, ProberConfig{OnResult: rs.add})
			spec := fastSpec(tc.check)
			spec.Body = okBody
			k := key("web", srv.addr)
			if err := p.Set([]Target{{TargetKey: k, Spec: spec}}); err != nil {
				t.Fatal(err)
			}
			all := rs.until(t, true, 2, 20)
			tc.fail(srv)
			failing := rs.until(t, false, spec.Fall+1, 20)
			tc.fix(srv)
			all = append(append(all, failing...), rs.until(t, true, spec.Rise+1, 20)...)

			ups, downs := checkSequence(t, all, spec.Rise, spec.Fall)
			if ups != 1 || downs != 1 {
				t.Errorf("%d up and %d down transitions, want 1 and 1: %s", ups, downs, seq(all))
			}
			for _, r := range failing {
				if r.Target != k {
					t.Errorf("result for %v, want %v", r.Target, k)
				}
				if !r.OK && !errors.Is(r.Err, tc.wantErr) {
					t.Errorf("failure %v does not wrap %v", r.Err, tc.wantErr)
				}
			}
			if up, known := p.Status(k); !up || !known {
				t.Errorf("Status at the end: up %v known %v, want true true", up, known)
			}
		})
	}
}

// TestProberFirstResult: a target dead at startup goes down at its first
// probe, not after fall of them.
func TestProberFirstResult(t *testing.T) {
	rs := newResults()
	log := &testLogger{}
	reg := prometheus.NewPedanticRegistry()
	p := startProber(t, ProberConfig{OnResult: rs.add, Logger: log, Registerer: reg})
	k := key("web", deadPort(t))
	if err := p.Set([]Target{{TargetKey: k, Spec: fastSpec(TCP)}}); err != nil {
		t.Fatal(err)
	}
	r := rs.next(t, 2*time.Second)
	if r.OK || r.Up || !r.Changed {
		t.Errorf("first result: ok %v up %v changed %v, want false false true (%v)", r.OK, r.Up, r.Changed, r.Err)
	}
	if up, known := p.Status(k); up || !known {
		t.Errorf("Status: up %v known %v, want false true", up, known)
	}
	r = rs.next(t, 2*time.Second)
	if r.OK || r.Up || r.Changed {
		t.Errorf("second result: ok %v up %v changed %v, want false false false", r.OK, r.Up, r.Changed)
	}
	lines := log.all()
	if len(lines) != 1 || !strings.Contains(lines[0], "probe c1/ns/web 127.0.0.1:") ||
		!strings.Contains(lines[0], "pending -> down") || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("log %q, want one pending -> down line", lines)
	}
	promtest.Check(t, reg, map[string]float64{
		`meridian_health_transitions_total{signal=probe}{to=down}`: 1,
		`meridian_probe_targets`:                                   1,
	})
	if got := promtest.Values(t, reg)[`meridian_probes_total{check=tcp}{result=failure}`]; got < 2 {
		t.Errorf("tcp failures counted %v, want at least 2", got)
	}
}

// TestProberLogsOncePerTransition: flapping below the thresholds logs
// nothing; each transition logs one line.
func TestProberLogsOncePerTransition(t *testing.T) {
	srv := newTestServer(t, nil)
	rs := newResults()
	log := &testLogger{}
	reg := prometheus.NewPedanticRegistry()
	hist := NewHistory(10)
	p := startProber(t, ProberConfig{OnResult: rs.add, Logger: log, Registerer: reg, History: hist})
	spec := fastSpec(HTTP)
	if err := p.Set([]Target{{TargetKey: key("web", srv.addr), Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	all := rs.until(t, true, 1, 10)
	srv.setMode(serve500)
	all = append(all, rs.until(t, false, 2, 20)...) // fall 3: still up
	if len(log.all()) != 0 {
		t.Fatalf("logged %q before any transition", log.all())
	}
	all = append(all, rs.until(t, false, 3, 20)...)
	srv.setMode(serveOK)
	all = append(all, rs.until(t, true, 4, 20)...)
	checkSequence(t, all, spec.Rise, spec.Fall)
	lines := log.all()
	if len(lines) != 2 || !strings.Contains(lines[0], "up -> down after 3 failures (last: unexpected HTTP status 500") ||
		!strings.Contains(lines[1], "down -> up after 2 successes") {
		t.Errorf("log %q, want one line per transition; results %s", lines, seq(all))
	}
	ts, total := hist.Recent()
	if total != 2 || ts[0].To != "up" || ts[1].To != "down" || ts[1].Signal != "probe" ||
		!strings.Contains(ts[1].Detail, "after 3 failures") || ts[1].What != key("web", srv.addr).String() {
		t.Errorf("history %+v (%d), want the two transitions, newest first", ts, total)
	}
	st := p.Targets(key("web", srv.addr).Key)
	if len(st) != 1 || !st[0].Up || !st[0].Known || !st[0].Last.OK || st[0].Run < 2 || st[0].Fall != spec.Fall ||
		st[0].LastAt.Before(st[0].Since) || st[0].Check != HTTP {
		t.Errorf("Targets = %+v, want the one target up after its successes", st)
	}
	promtest.Check(t, reg, map[string]float64{
		`meridian_health_transitions_total{signal=probe}{to=down}`: 1,
		`meridian_health_transitions_total{signal=probe}{to=up}`:   1,
	})
}

// TestProberStatus covers targets before their first probe and outside
// the set, on a fake clock so no probe runs.
func TestProberStatus(t *testing.T) {
	p := NewProber(ProberConfig{Clock: clock.NewFake(epoch)})
	k := key("web", netip.MustParseAddrPort("127.0.0.1:9"))
	if err := p.Set([]Target{{TargetKey: k, Spec: fastSpec(TCP)}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		k         TargetKey
		up, known bool
	}{
		{"pending", k, true, false},
		{"not in the set", key("other", k.Addr), true, false},
	}
	for _, tc := range tests {
		if up, known := p.Status(tc.k); up != tc.up || known != tc.known {
			t.Errorf("%s: up %v known %v, want %v %v", tc.name, up, known, tc.up, tc.known)
		}
	}
}

func TestProberSetInvalid(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	noPort := netip.AddrPortFrom(addr.Addr(), 0)
	bad := fastSpec(TCP)
	bad.Timeout = time.Hour
	tests := []struct {
		name string
		t    Target
		ok   bool
	}{
		{"tcp", Target{TargetKey: key("a", addr), Spec: fastSpec(TCP)}, true},
		{"port from the spec", Target{TargetKey: key("a", noPort), Spec: func() Spec { s := fastSpec(TCP); s.Port = 8080; return s }()}, true},
		{"host and port", Target{TargetKey: TargetKey{Key: Key{Name: "a"}, Host: "lb.example.", Port: 443}, Spec: fastSpec(HTTPS)}, true},
		{"check off", Target{TargetKey: key("a", addr), Spec: DefaultSpec()}, false},
		{"invalid spec", Target{TargetKey: key("a", addr), Spec: bad}, false},
		{"no port", Target{TargetKey: key("a", noPort), Spec: fastSpec(TCP)}, false},
		{"no address", Target{TargetKey: TargetKey{Key: Key{Name: "a"}}, Spec: fastSpec(TCP)}, false},
		{"host without port", Target{TargetKey: TargetKey{Key: Key{Name: "a"}, Host: "lb.example."}, Spec: fastSpec(TCP)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProber(ProberConfig{Clock: clock.NewFake(epoch)})
			err := p.Set([]Target{tc.t})
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrSpec)) {
				t.Errorf("Set: %v, want ok %v (or ErrSpec)", err, tc.ok)
			}
			p.mu.Lock()
			n := len(p.targets)
			p.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[tc.ok]; n != want {
				t.Errorf("%d targets, want %d", n, want)
			}
		})
	}
}

// TestProberSetKeepsState: unchanged targets keep their state, a changed
// spec starts over, removed targets are gone.
func TestProberSetKeepsState(t *testing.T) {
	up, down := newTestServer(t, nil), deadPort(t)
	rs := newResults()
	p := startProber(t, ProberConfig{OnResult: rs.add})
	spec := fastSpec(TCP)
	a, b, c := key("a", up.addr), key("b", down), key("c", up.addr)
	if err := p.Set([]Target{{TargetKey: a, Spec: spec}, {TargetKey: b, Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	seen := map[TargetKey]bool{}
	for len(seen) < 2 {
		seen[rs.next(t, 2*time.Second).Target] = true
	}
	slower := spec
	slower.Interval = time.Hour // no probe of b during the test
	if err := p.Set([]Target{{TargetKey: a, Spec: spec}, {TargetKey: b, Spec: slower}}); err != nil {
		t.Fatal(err)
	}
	if up, known := p.Status(a); !up || !known {
		t.Errorf("a after Set: up %v known %v, want true true (kept)", up, known)
	}
	if up, known := p.Status(b); up || known {
		t.Errorf("b with a new spec: up %v known %v, want false false (down until its first result)", up, known)
	}
	if err := p.Set([]Target{{TargetKey: c, Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []TargetKey{a, b} {
		if up, known := p.Status(k); !up || known {
			t.Errorf("%v removed: up %v known %v, want true false", k, up, known)
		}
	}
	// Results of a and b reported before the Set may still be queued:
	// skip to c's first, then only c may report.
	for i := 0; rs.next(t, 3*time.Second).Target != c; i++ {
		if i == 20 {
			t.Fatal("no result for c in 20")
		}
	}
	for range 3 {
		if r := rs.next(t, 3*time.Second); r.Target != c {
			t.Errorf("result for %v after it was removed", r.Target)
		}
	}
}

// TestProberDropsRemovedInFlight: a probe in flight when its target leaves
// the set reports nothing.
func TestProberDropsRemovedInFlight(t *testing.T) {
	srv := newTestServer(t, nil)
	srv.setMode(serveHang)
	rs := newResults()
	p := startProber(t, ProberConfig{OnResult: rs.add})
	spec := fastSpec(HTTP)
	spec.Interval, spec.Timeout = 300*time.Millisecond, 300*time.Millisecond
	if err := p.Set([]Target{{TargetKey: key("web", srv.addr), Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.requests: // the probe is waiting for its answer
	case <-time.After(2 * time.Second):
		t.Fatal("no request within 2s")
	}
	if err := p.Set(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-rs.ch:
		t.Errorf("result %+v for a removed target", r)
	case <-time.After(spec.Timeout + 200*time.Millisecond):
	}
}

// countingDialer counts connections dialed and not yet closed.
type countingDialer struct {
	d                 net.Dialer
	open, max, dialed atomic.Int64
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n := c.open.Add(1)
	c.dialed.Add(1)
	for m := c.max.Load(); n > m && !c.max.CompareAndSwap(m, n); m = c.max.Load() {
	}
	conn, err := c.d.DialContext(ctx, network, addr)
	if err != nil {
		c.open.Add(-1)
		return nil, err
	}
	return &countedConn{Conn: conn, open: &c.open}, nil
}

type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// TestProberConcurrency: with Concurrency 2 and eight hanging targets,
// never more than two probes are in flight.
func TestProberConcurrency(t *testing.T) {
	srv := newTestServer(t, nil)
	srv.setMode(serveHang)
	d := &countingDialer{}
	rs := newResults()
	p := startProber(t, ProberConfig{Concurrency: 2, Dialer: d, OnResult: rs.add})
	spec := fastSpec(HTTP)
	spec.Interval, spec.Timeout = 100*time.Millisecond, 100*time.Millisecond
	var ts []Target
	for i := range 8 {
		ts = append(ts, Target{TargetKey: key(fmt.Sprint("svc", i), srv.addr), Spec: spec})
	}
	if err := p.Set(ts); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if r := rs.next(t, 2*time.Second); !errors.Is(r.Err, ErrTimeout) {
			t.Errorf("result %v, want a timeout", r.Err)
		}
	}
	if m := d.max.Load(); m != 2 {
		t.Errorf("at most %d probes in flight, want exactly 2 (the bound, reached)", m)
	}
}

package health

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/internal/clock"
)

// pipeDialer "connects" at once to nothing and reports each dial.
type pipeDialer struct{ dials chan string }

func (d pipeDialer) DialContext(_ context.Context, _, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	server.Close()
	d.dials <- addr
	return client, nil
}

// nextOf returns when k's next probe is due, as an offset from p's start.
func nextOf(p *Prober, k TargetKey) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.targets[k].next
}

// TestProberJitter: first probes spread uniformly over the first interval;
// later ones follow at the interval ± 5%.
func TestProberJitter(t *testing.T) {
	const n, interval = 2000, 10 * time.Second
	p := NewProber(ProberConfig{Clock: clock.NewFake(epoch), Rand: rand.New(rand.NewPCG(1, 2))})
	spec := fastSpec(TCP)
	spec.Interval = interval
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{TargetKey: key("svc", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), 80)), Spec: spec}
	}
	if err := p.Set(ts); err != nil {
		t.Fatal(err)
	}
	var buckets [10]int
	for _, tg := range ts {
		next := nextOf(p, tg.TargetKey)
		if next < 0 || next >= interval {
			t.Fatalf("first probe at %v, not within the first interval", next)
		}
		buckets[next*10/interval]++
	}
	for i, b := range buckets {
		if b < n/10*7/10 || b > n/10*13/10 { // within 30% of uniform
			t.Errorf("%d first probes in [%ds, %ds), want about %d: %v", b, i, i+1, n/10, buckets)
		}
	}
	lo, hi := interval, time.Duration(0)
	for range 10000 {
		d := p.jitter(interval)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < interval*95/100 || hi > interval*105/100 || lo > interval*96/100 || hi < interval*104/100 {
		t.Errorf("later intervals from %v to %v, want spread over %v ± 5%%", lo, hi, interval)
	}
}

// TestProberSchedule drives the scheduler with a fake clock: each probe
// runs when due and not before, and a hundred targets share one timer.
func TestProberSchedule(t *testing.T) {
	clk := clock.NewFake(epoch)
	dials := make(chan string, 256)
	rs := newResults()
	p := startProber(t, ProberConfig{Clock: clk, Dialer: pipeDialer{dials}, OnResult: rs.add})
	spec := fastSpec(TCP)
	spec.Interval = 10 * time.Second
	ts := make([]Target, 100)
	for i := range ts {
		ts[i] = Target{TargetKey: key("svc", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}), 80)), Spec: spec}
	}
	if err := p.Set(ts); err != nil {
		t.Fatal(err)
	}
	first, k := time.Duration(1<<62), TargetKey{}
	for _, tg := range ts {
		if next := nextOf(p, tg.TargetKey); next < first {
			first, k = next, tg.TargetKey
		}
	}
	waitTimers(t, clk, 1)
	noDial := func() {
		t.Helper()
		select {
		case a := <-dials:
			t.Fatalf("dialed %s before it was due", a)
		case <-time.After(50 * time.Millisecond):
		}
	}
	noDial()
	clk.Advance(first - time.Millisecond)
	noDial()
	clk.Advance(time.Millisecond)
	select {
	case a := <-dials:
		if a != k.Addr.String() {
			t.Errorf("dialed %s, want %s (the first due)", a, k.Addr)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no dial within 2s of the first due time")
	}
	if r := rs.next(t, 2*time.Second); r.Target != k || !r.OK {
		t.Errorf("result %+v, want a pass of %v", r, k)
	}
	if next := nextOf(p, k); next < first+spec.Interval*95/100 || next > first+spec.Interval*105/100 {
		t.Errorf("next probe at %v, want %v + %v ± 5%%", next, first, spec.Interval)
	}
	waitTimers(t, clk, 1)
	clk.Advance(spec.Interval * 11 / 10) // every target is due by then
	got := map[string]int{}
	for len(got) < len(ts) {
		select {
		case a := <-dials:
			got[a]++
		case <-time.After(2 * time.Second):
			t.Fatalf("after an interval: %d of %d targets probed", len(got), len(ts))
		}
	}
}

// waitTimers waits until clk has n timers set, or fails t.
func waitTimers(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for clk.Pending() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers set, want %d", clk.Pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

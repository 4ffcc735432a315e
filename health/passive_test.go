package health

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/promtest"
)

// passiveStep is one Observe of a table test: at a time since the start,
// shard's raw signal is ok, and Observe should return up and pending.
type passiveStep struct {
	at          time.Duration
	shard       string
	ok          bool
	fall        int // with rise 2; 0 means 3
	up, pending bool
}

// runPassive plays steps on a fake clock, then 10 s more, and returns
// when OnDue fired (since the start).
func runPassive(t *testing.T, steps []passiveStep) []time.Duration {
	t.Helper()
	clk := clock.NewFake(epoch)
	start := clk.Now()
	var dues []time.Duration
	p := NewPassive(PassiveConfig{Clock: clk, OnDue: func() { dues = append(dues, clk.Now().Sub(start)) }})
	for i, s := range steps {
		clk.Set(start.Add(s.at))
		fall := s.fall
		if fall == 0 {
			fall = 3
		}
		up, pending := p.Observe(Key{Cluster: "c1", Namespace: "ns", Name: s.shard}, s.ok, 2, fall)
		if up != s.up || pending != s.pending {
			t.Errorf("step %d (%v %s ok=%v): up %v pending %v, want %v %v", i, s.at, s.shard, s.ok, up, pending, s.up, s.pending)
		}
	}
	clk.Advance(10 * time.Second)
	return dues
}

func TestPassive(t *testing.T) {
	const ms = time.Millisecond
	type step = passiveStep
	tests := []struct {
		name  string
		steps []step
		dues  []time.Duration // when OnDue fired
	}{
		{"first observation is taken at once", []step{
			{0, "a", false, 0, false, false},
			{0, "b", true, 0, true, false},
		}, nil},
		{"fall 1 is immediate", []step{
			{0, "a", true, 1, true, false},
			{100 * ms, "a", false, 1, false, false},
		}, nil},
		{"down after (fall-1) intervals bad", []step{
			{0, "a", true, 0, true, false},
			{100 * ms, "a", false, 0, true, true},
			{599 * ms, "a", false, 0, true, true},
			{600 * ms, "a", false, 0, false, false},
		}, []time.Duration{600 * ms}},
		{"repeated bad observations do not move the due time", []step{
			{0, "a", true, 0, true, false},
			{100 * ms, "a", false, 0, true, true},
			{200 * ms, "a", false, 0, true, true},
			{300 * ms, "a", false, 0, true, true},
			{600 * ms, "a", false, 0, false, false},
		}, []time.Duration{600 * ms}},
		{"a good observation restarts the count", []step{
			{0, "a", true, 0, true, false},
			{100 * ms, "a", false, 0, true, true},
			{300 * ms, "a", true, 0, true, false},
			{400 * ms, "a", false, 0, true, true},
			{600 * ms, "a", false, 0, true, true}, // OnDue of the first dip: not yet
			{900 * ms, "a", false, 0, false, false},
		}, []time.Duration{600 * ms, 900 * ms}},
		{"up after (rise-1) intervals good", []step{
			{0, "a", false, 0, false, false},
			{100 * ms, "a", true, 0, false, true},
			{350 * ms, "a", true, 0, true, false},
		}, []time.Duration{350 * ms}},
		{"late observation flips at once", []step{
			{0, "a", true, 0, true, false},
			{100 * ms, "a", false, 0, true, true},
			{5 * time.Second, "a", false, 0, false, false},
		}, []time.Duration{600 * ms}},
		{"the earliest due time across shards is armed", []step{
			{0, "a", true, 0, true, false},
			{0, "b", true, 2, true, false},
			{100 * ms, "a", false, 0, true, true}, // due 600
			{200 * ms, "b", false, 2, true, true}, // due 450: replaces 600
			{450 * ms, "b", false, 2, false, false},
			{450 * ms, "a", false, 0, true, true}, // arms 600 again
			{600 * ms, "a", false, 0, false, false},
		}, []time.Duration{450 * ms, 600 * ms}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if dues := runPassive(t, tc.steps); !slices.Equal(dues, tc.dues) {
				t.Errorf("OnDue at %v, want %v", dues, tc.dues)
			}
		})
	}
}

// TestPassiveOnDueRebuild plays the caller: OnDue observes the shard again,
// which is what makes it go down exactly (fall-1) intervals after the
// signal went bad.
func TestPassiveOnDueRebuild(t *testing.T) {
	clk := clock.NewFake(epoch)
	start := clk.Now()
	reg := prometheus.NewPedanticRegistry()
	log := &testLogger{}
	k := Key{Cluster: "c1", Namespace: "ns", Name: "web"}
	ready := true
	type event struct {
		at time.Duration
		up bool
	}
	var (
		p      *Passive
		events []event
	)
	p = NewPassive(PassiveConfig{Interval: 100 * time.Millisecond, Clock: clk, Logger: log, Registerer: reg, OnDue: func() {
		up, _ := p.Observe(k, ready, 2, 4)
		events = append(events, event{clk.Now().Sub(start), up})
		p.Sweep()
	}})
	p.Observe(k, true, 2, 4)
	p.Sweep()
	clk.Advance(time.Second)
	ready = false
	if up, pending := p.Observe(k, false, 2, 4); !up || !pending {
		t.Fatalf("first bad observation: up %v pending %v, want true true", up, pending)
	}
	clk.Advance(time.Second)
	ready = true
	p.Observe(k, true, 2, 4)
	clk.Advance(time.Second)
	want := []event{{1300 * time.Millisecond, false}, {2100 * time.Millisecond, true}}
	if !slices.Equal(events, want) {
		t.Errorf("OnDue observations %v, want %v", events, want)
	}
	promtest.Check(t, reg, map[string]float64{
		`meridian_health_transitions_total{signal=passive}{to=down}`: 1,
		`meridian_health_transitions_total{signal=passive}{to=up}`:   1,
	})
	lines := log.all()
	if len(lines) != 2 || !strings.Contains(lines[0], "c1/ns/web: up -> down, not ready for 300ms") ||
		!strings.Contains(lines[1], "c1/ns/web: down -> up, ready for 100ms") {
		t.Errorf("log %q, want one line per transition", lines)
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("%d timers left set, want 0", n)
	}
}

func TestPassiveSweep(t *testing.T) {
	clk := clock.NewFake(epoch)
	p := NewPassive(PassiveConfig{Clock: clk})
	a, b := Key{Cluster: "c1", Name: "a"}, Key{Cluster: "c1", Name: "b"}
	p.Observe(a, true, 2, 3)
	p.Observe(b, true, 2, 3)
	p.Sweep()
	p.Observe(a, true, 2, 3)
	p.Sweep() // forgets b
	if n := p.Len(); n != 1 {
		t.Fatalf("%d shards remembered, want 1", n)
	}
	// b is new again: its raw state counts at once, no hysteresis.
	if up, pending := p.Observe(b, false, 2, 3); up || pending {
		t.Errorf("b after Sweep: up %v pending %v, want false false", up, pending)
	}
	// a is still known: a bad signal is pending.
	if up, pending := p.Observe(a, false, 2, 3); !up || !pending {
		t.Errorf("a: up %v pending %v, want true true", up, pending)
	}
}

// TestPassiveSystemClock runs the timer on the system clock, concurrently
// with Observe.
func TestPassiveSystemClock(t *testing.T) {
	due := make(chan struct{}, 1)
	p := NewPassive(PassiveConfig{Interval: 10 * time.Millisecond, OnDue: func() {
		select {
		case due <- struct{}{}:
		default:
		}
	}})
	k := Key{Cluster: "c1", Namespace: "ns", Name: "web"}
	p.Observe(k, true, 2, 3)
	start := time.Now()
	if _, pending := p.Observe(k, false, 2, 3); !pending {
		t.Fatal("bad signal not pending")
	}
	var wg sync.WaitGroup
	for i := range 4 { // other shards observed meanwhile
		wg.Go(func() {
			for j := range 100 {
				p.Observe(Key{Cluster: "c2", Name: string(rune('a' + i))}, j%2 == 0, 2, 3)
			}
		})
	}
	wg.Wait()
	select {
	case <-due:
	case <-time.After(2 * time.Second):
		t.Fatal("OnDue not called within 2s")
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("OnDue after %v, before the 20ms due time", took)
	}
	if up, pending := p.Observe(k, false, 2, 3); up || pending {
		t.Errorf("after OnDue: up %v pending %v, want false false", up, pending)
	}
}

// TestPassiveJudgeRecord checks that Judge changes nothing until Record,
// which commits a whole build's observations and forgets the shards it
// was not given, and that Judge and Record together go through the same
// transitions as Observe.
func TestPassiveJudgeRecord(t *testing.T) {
	clk := clock.NewFake(epoch)
	dues := 0
	p := NewPassive(PassiveConfig{Clock: clk, OnDue: func() { dues++ }})
	a, b := Key{Cluster: "c1", Name: "a"}, Key{Cluster: "c1", Name: "b"}
	p.Record([]Observation{p.Judge(a, true, 2, 2), p.Judge(b, true, 2, 2)})
	if n := p.Len(); n != 2 {
		t.Fatalf("%d shards remembered, want 2", n)
	}
	// Judged twice without Record: the count does not move.
	for range 2 {
		clk.Advance(time.Second)
		if o := p.Judge(a, false, 2, 2); !o.Up() || !o.Pending() {
			t.Fatalf("a judged bad without Record: up %v pending %v, want true true", o.Up(), o.Pending())
		}
	}
	o := p.Judge(a, false, 2, 2)
	p.Record([]Observation{o}) // b is not observed: forgotten
	if n := p.Len(); n != 1 {
		t.Fatalf("%d shards remembered after Record without b, want 1", n)
	}
	clk.Advance(time.Second) // past the due time of fall 2 (250 ms)
	if dues != 1 {
		t.Errorf("OnDue fired %d times, want 1", dues)
	}
	if o := p.Judge(a, false, 2, 2); o.Up() || o.Pending() {
		t.Errorf("a after fall: up %v pending %v, want false false", o.Up(), o.Pending())
	}
	if o := p.Judge(b, false, 2, 2); o.Up() || o.Pending() {
		t.Errorf("b forgotten, judged anew: up %v pending %v, want false false", o.Up(), o.Pending())
	}
}

// TestPassiveJudgeAt checks that a handle finds its shard as the key does,
// and that a handle to a shard the tracker forgot is ignored: the shard
// remembered anew under the same key is judged instead.
func TestPassiveJudgeAt(t *testing.T) {
	clk := clock.NewFake(epoch)
	p := NewPassive(PassiveConfig{Clock: clk})
	a := Key{Cluster: "c1", Name: "a"}
	if h := p.Judge(a, true, 2, 2); h.Handle() != (Handle{}) {
		t.Fatal("a shard the tracker does not know has a handle")
	}
	p.Record([]Observation{p.Judge(a, true, 2, 2)})
	o := p.Judge(a, true, 2, 2)
	h := o.Handle()
	if h == (Handle{}) {
		t.Fatal("no handle for a remembered shard")
	}
	p.Record([]Observation{p.JudgeAt(a, h, false, 2, 2)}) // pending fall
	if got, want := p.JudgeAt(a, h, false, 2, 2), p.Judge(a, false, 2, 2); got != want {
		t.Errorf("JudgeAt %+v, Judge %+v: want the same", got, want)
	}
	p.Record(nil) // a forgotten: h is stale
	p.Record([]Observation{p.Judge(a, false, 2, 2)})
	// a is remembered anew, down at once (unknown shards take their signal).
	got := p.JudgeAt(a, h, true, 2, 2)
	if got.Handle() == h || got != p.Judge(a, true, 2, 2) {
		t.Errorf("JudgeAt with a stale handle: %+v, want the new record's %+v", got, p.Judge(a, true, 2, 2))
	}
}

// TestPassiveStatus: Status tells the stable state, the raw signal and
// since when, and records transitions in the history.
func TestPassiveStatus(t *testing.T) {
	clk := clock.NewFake(epoch)
	hist := NewHistory(0)
	p := NewPassive(PassiveConfig{Clock: clk, History: hist})
	k := Key{Cluster: "c1", Namespace: "ns", Name: "web"}
	if _, ok := p.Status(k); ok {
		t.Fatal("Status of a shard never observed: known")
	}
	p.Observe(k, true, 2, 3)
	clk.Advance(time.Second)
	p.Observe(k, false, 2, 3) // pending down
	st, ok := p.Status(k)
	if want := (PassiveStatus{Up: true, Raw: false, Since: epoch.Add(time.Second)}); !ok || st != want {
		t.Errorf("pending: Status = %+v %v, want %+v", st, ok, want)
	}
	clk.Advance(time.Second)
	p.Observe(k, false, 2, 3) // down
	if st, _ := p.Status(k); st.Up || st.Raw {
		t.Errorf("after the fall: Status = %+v, want down", st)
	}
	ts, total := hist.Recent()
	if total != 1 || ts[0].What != "c1/ns/web" || ts[0].From != "up" || ts[0].To != "down" ||
		ts[0].Detail != "not ready for 1s" || !ts[0].At.Equal(epoch.Add(2*time.Second)) {
		t.Errorf("history %+v (%d), want one up -> down", ts, total)
	}
	p.Sweep()
	p.Sweep()
	if _, ok := p.Status(k); ok {
		t.Error("Status of a swept shard: known")
	}
}

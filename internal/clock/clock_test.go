package clock_test

import (
	"slices"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/internal/clock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestOr(t *testing.T) {
	if _, ok := clock.Or(nil).(clock.System); !ok {
		t.Errorf("Or(nil) is %T, want clock.System", clock.Or(nil))
	}
	f := clock.NewFake(epoch)
	if clock.Or(f) != clock.Clock(f) {
		t.Error("Or(f) is not f")
	}
}

func TestSystem(t *testing.T) {
	before := time.Now()
	if now := (clock.System{}).Now(); now.Before(before) {
		t.Errorf("System.Now() = %v, before %v", now, before)
	}
	done := make(chan struct{})
	clock.System{}.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("System.AfterFunc never called f")
	}
}

// TestFakeOrder runs timers in the order of their times, each with Now at
// its time, and the ones due at the same time in the order they were set.
func TestFakeOrder(t *testing.T) {
	c := clock.NewFake(epoch)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(epoch).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, at("a"))
	c.AfterFunc(3*time.Second, at("d"))
	c.AfterFunc(2*time.Second, at("b"))
	c.AfterFunc(5*time.Second, at("late"))
	c.Advance(4 * time.Second)
	want := []string{"a@1s", "b@2s", "c@3s", "d@3s"}
	if !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	if now := c.Now().Sub(epoch); now != 4*time.Second {
		t.Errorf("Now after Advance(4s) = epoch+%v, want epoch+4s", now)
	}
	if n := c.Pending(); n != 1 {
		t.Errorf("Pending() = %d, want 1", n)
	}
}

// TestFakeTimerSetByTimer runs a timer set by another's function when it
// comes due within the same move, and not when it does not.
func TestFakeTimerSetByTimer(t *testing.T) {
	c := clock.NewFake(epoch)
	var got []time.Duration
	var tick func()
	tick = func() {
		got = append(got, c.Now().Sub(epoch))
		c.AfterFunc(time.Second, tick)
	}
	c.AfterFunc(time.Second, tick)
	c.Advance(3500 * time.Millisecond)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("ran at %v, want %v", got, want)
	}
}

func TestFakeStopReset(t *testing.T) {
	c := clock.NewFake(epoch)
	n := 0
	tm := c.AfterFunc(time.Second, func() { n++ })
	if !tm.Stop() {
		t.Error("Stop of a pending timer = false")
	}
	if tm.Stop() {
		t.Error("Stop of a stopped timer = true")
	}
	c.Advance(2 * time.Second)
	if n != 0 {
		t.Fatalf("a stopped timer ran %d times", n)
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a stopped timer = true")
	}
	if !tm.Reset(2 * time.Second) {
		t.Error("Reset of a pending timer = false")
	}
	c.Advance(time.Second)
	if n != 0 {
		t.Fatal("a timer ran at its time before Reset")
	}
	c.Advance(time.Second)
	if n != 1 {
		t.Fatalf("ran %d times, want 1", n)
	}
	if tm.Stop() {
		t.Error("Stop of a timer that ran = true")
	}
	if c.Pending() != 0 {
		t.Errorf("Pending() = %d, want 0", c.Pending())
	}
}

// TestFakeSet moves to a time, running what is due by it, and back.
func TestFakeSet(t *testing.T) {
	c := clock.NewFake(epoch)
	ran := false
	c.AfterFunc(time.Minute, func() { ran = true })
	c.Set(epoch.Add(time.Minute))
	if !ran {
		t.Error("Set to a timer's time did not run it")
	}
	c.Set(epoch)
	if !c.Now().Equal(epoch) {
		t.Errorf("Now after Set(epoch) = %v", c.Now())
	}
}

// TestFakeDueNow runs a timer set with d <= 0 at the next move, not inside
// AfterFunc.
func TestFakeDueNow(t *testing.T) {
	c := clock.NewFake(epoch)
	ran := false
	c.AfterFunc(-time.Second, func() { ran = true })
	if ran {
		t.Fatal("AfterFunc(-1s) ran f at once")
	}
	c.Advance(0)
	if !ran {
		t.Error("Advance(0) did not run a timer due now")
	}
	if !c.Now().Equal(epoch) {
		t.Errorf("Now moved to %v", c.Now())
	}
}

// TestFakeConcurrent is for the race detector.
func TestFakeConcurrent(t *testing.T) {
	c := clock.NewFake(epoch)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			tm := c.AfterFunc(time.Millisecond, func() {})
			tm.Reset(2 * time.Millisecond)
			_ = c.Now()
		}
	}()
	for range 100 {
		c.Advance(time.Millisecond)
	}
	<-done
	c.Advance(time.Second)
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending() = %d after every timer came due", n)
	}
}

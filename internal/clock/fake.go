package clock

import (
	"slices"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when Advance or Set says so, for
// tests. Moving the time runs the functions of the timers that come due on
// the way, in the goroutine that moves it, one at a time and in the order
// of their times (timers due at the same time in the order they were set),
// each with Now at its own time; a timer that a function sets and that
// comes due within the move runs too. A timer due now (AfterFunc with
// d <= 0) runs at the next move, Advance(0) included, never inside
// AfterFunc: its caller may hold a lock the function takes.
//
// A Fake is safe for concurrent use. Make one with NewFake.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	pending []*fakeTimer // the timers set, in the order they were set
}

var _ Clock = (*Fake)(nil)

// fakeTimer is a Timer of a Fake; its fields are guarded by the Fake's mu.
type fakeTimer struct {
	c    *Fake
	when time.Time
	f    func()
	set  bool // in c.pending
}

// NewFake returns a Fake whose time is start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the Fake's time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc sets a timer that calls f once the time has moved d on.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, f: f}
	c.arm(t, d)
	return t
}

// Advance moves the time d on, running the timers that come due.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	c.Set(end)
}

// Set moves the time to end, running the timers due by then. An end
// before Now sets the time back and runs only timers due by end.
func (c *Fake) Set(end time.Time) {
	for {
		c.mu.Lock()
		t := c.next(end)
		if t == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		c.disarm(t)
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// Pending returns how many timers are set.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// next returns the earliest timer due by end, or nil.
func (c *Fake) next(end time.Time) *fakeTimer {
	var next *fakeTimer
	for _, t := range c.pending {
		if !t.when.After(end) && (next == nil || t.when.Before(next.when)) {
			next = t
		}
	}
	return next
}

// arm sets t to fire d from now. The caller holds c.mu.
func (c *Fake) arm(t *fakeTimer, d time.Duration) {
	t.when = c.now.Add(d)
	if !t.set {
		t.set = true
		c.pending = append(c.pending, t)
	}
}

// disarm takes t off the pending timers. The caller holds c.mu.
func (c *Fake) disarm(t *fakeTimer) {
	if t.set {
		t.set = false
		c.pending = slices.DeleteFunc(c.pending, func(p *fakeTimer) bool { return p == t })
	}
}

// Stop cancels the call; it reports whether it was pending.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.set
	t.c.disarm(t)
	return was
}

// Reset makes the call happen d from the Fake's time; it reports whether
// it was pending.
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.set
	t.c.disarm(t) // a reset timer goes after others due at the same time
	t.c.arm(t, d)
	return was
}

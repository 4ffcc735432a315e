// Package clock holds the one clock Meridian's packages tell the time and
// run timers through: the Clock interface, System (the machine's clock)
// and Fake, a clock for tests that moves only when told. Packages take a
// Clock from their caller, never read the time from a global, so tests can
// drive their timers and TTLs without sleeping.
package clock

import "time"

// Clock tells the time and runs functions later.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once d has passed, until the returned Timer is
	// stopped, as time.AfterFunc does (System calls f in its own
	// goroutine; Fake in the goroutine that moves its time).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call made by Clock.AfterFunc (*time.Timer satisfies
// it).
type Timer interface {
	// Stop cancels the call; it reports whether the call was pending.
	Stop() bool
	// Reset makes the call happen once d has passed from now, whether or
	// not it happened already; it reports whether the call was pending.
	Reset(d time.Duration) bool
}

// System is the machine's clock: time.Now and time.AfterFunc.
type System struct{}

var (
	_ Clock = System{}
	_ Timer = (*time.Timer)(nil)
)

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// AfterFunc returns time.AfterFunc(d, f).
func (System) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Or returns c, or System when c is nil: what a constructor does with a
// config's Clock, where nil means the system clock.
func Or(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}

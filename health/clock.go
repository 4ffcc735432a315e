package health

import "time"

// Clock tells the time and runs functions later. Passive and Prober take
// one so tests can drive them with a fake; nil means the system clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, until the
	// returned Timer is stopped, as time.AfterFunc does.
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

// systemClock is the Clock of a nil Config.Clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// orSystem returns c, or the system clock when c is nil.
func orSystem(c Clock) Clock {
	if c == nil {
		return systemClock{}
	}
	return c
}

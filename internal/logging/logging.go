// Package logging holds the logger interface Meridian's libraries (geo,
// health, upstream) log through, so each takes CoreDNS's clog.P() or a
// test's logger without importing CoreDNS.
package logging

// Logger is what a library logs through; CoreDNS's clog.P() satisfies it.
// Libraries log state changes, never once per query or probe.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
}

// Nop discards everything; it stands in for a nil Logger.
type Nop struct{}

func (Nop) Debugf(string, ...any)   {}
func (Nop) Infof(string, ...any)    {}
func (Nop) Warningf(string, ...any) {}

// OrNop returns l, or Nop when l is nil.
func OrNop(l Logger) Logger {
	if l == nil {
		return Nop{}
	}
	return l
}

// Package logging holds the one logger interface Meridian's packages log
// through (geo, health, plugin/upstream and the sources), so each takes
// CoreDNS's clog.P() or a test's logger without importing CoreDNS.
package logging

// Logger is what a package logs through; CoreDNS's clog.P() satisfies it.
// Packages log state changes at Info or Warning, never once per query or
// probe; Debug is for what an operator chasing a problem may want to see.
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

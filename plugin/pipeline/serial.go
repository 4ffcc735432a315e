package pipeline

import "time"

// The SOA serial is derived from the member-cluster objects alone, so that
// replicas that see the same objects answer the same serial and a restart
// with no change keeps it. Each source reports, with a cluster's objects,
// the newest change time it knows of (source.Objects.Changed) and a
// fingerprint that moves with their content and with that time
// (source.Objects.Fingerprint). Health verdicts (probes, hysteresis, a
// cluster's up/stale/down state) depend on where a replica stands and never
// move the serial.
//
//	build                                   serial
//	--------------------------------------  -----------------------------------------
//	the first                               newest change time in seconds (1 if none)
//	before a build saw every source's       max(newest change time, previous)
//	first full load, and that build
//	later, no fingerprint moved and no      previous
//	cluster joined or left
//	later, otherwise                        max(newest change time, previous + 1)
//
// Until the first full load is in, clusters arrive in batches that differ
// from replica to replica, so a batch is not counted as a change: the
// serial only follows the change times. max and +1 are RFC 1982 serial
// arithmetic on 32 bits: a change time is taken only when it is "greater
// than" the other operand in that sense. A deletion leaves no change time
// behind, so after the first load it grows the serial by one.

// phase is where a store is in its life, for the serial.
type phase int

const (
	unbuilt phase = iota // no build yet
	loading              // no build has seen every source's first full load
	loaded               // some build has
)

// nextSerial is the serial of a build. changed is true when some cluster's
// fingerprint moved, or a cluster joined or left, since the previous build;
// newest is the newest change time over every cluster.
func nextSerial(prev uint32, ph phase, changed bool, newest time.Time) uint32 {
	at := stampSerial(newest)
	switch {
	case ph == unbuilt:
		return at
	case ph == loading:
		if serialGreater(at, prev) {
			return at
		}
		return prev
	case !changed:
		return prev
	case serialGreater(at, prev+1):
		return at
	default:
		return prev + 1
	}
}

// stampSerial is a change time as a serial: its Unix seconds, or 1 for no
// time (or one before 1970, which no real change has).
func stampSerial(t time.Time) uint32 {
	if t.IsZero() || t.Unix() < 1 {
		return 1
	}
	return uint32(t.Unix())
}

// serialGreater reports whether a is greater than b in RFC 1982 serial
// number arithmetic (SERIAL_BITS 32): a != b and the distance from b up to
// a is less than 2^31.
func serialGreater(a, b uint32) bool {
	d := a - b
	return d != 0 && d < 1<<31
}

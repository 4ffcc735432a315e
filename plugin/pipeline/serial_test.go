package pipeline

import (
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
)

func TestNextSerial(t *testing.T) {
	at := func(sec int64) time.Time { return time.Unix(sec, 500) }
	for _, tc := range []struct {
		name    string
		prev    uint32
		ph      phase
		changed bool
		newest  time.Time
		want    uint32
	}{
		{"first build takes the newest change time", 0, unbuilt, true, at(1_800_000_000), 1_800_000_000},
		{"first build with no change time", 0, unbuilt, true, time.Time{}, 1},
		{"a time before 1970 counts as none", 0, unbuilt, true, time.Unix(-5, 0), 1},
		{"first build after 2038 (past 2^31 s)", 0, unbuilt, true, at(3_000_000_000), 3_000_000_000},
		{"loading: a newer time is taken", 1_800_000_000, loading, true, at(1_800_000_500), 1_800_000_500},
		{"loading: a batch with older times is no change", 1_800_000_000, loading, true, at(1_700_000_000), 1_800_000_000},
		{"loading: never falls", 1_800_000_000, loading, false, time.Time{}, 1_800_000_000},
		{"no change keeps the serial though time moved", 1_800_000_000, loaded, false, at(1_800_000_900), 1_800_000_000},
		{"a change takes its newer time", 1_800_000_000, loaded, true, at(1_800_000_900), 1_800_000_900},
		{"a change with no newer time grows by one", 1_800_000_000, loaded, true, at(1_800_000_000), 1_800_000_001},
		{"a deletion leaves an older newest time", 1_800_000_000, loaded, true, at(1_700_000_000), 1_800_000_001},
		{"a change one second on", 1_800_000_000, loaded, true, at(1_800_000_001), 1_800_000_001},
		{"increment wraps past 2^32-1 to 0", 1<<32 - 1, loaded, true, at(1<<32 - 100), 0},
		{"after a wrap a time is greater in RFC 1982 terms", 1<<32 - 10, loaded, true, at(5), 5},
		{"a time 2^31 past the increment is not greater", 10, loaded, true, at(11 + 1<<31), 11},
		{"a time 2^31-1 past the increment is greater", 10, loaded, true, at(10 + 1<<31), 10 + 1<<31},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextSerial(tc.prev, tc.ph, tc.changed, tc.newest); got != tc.want {
				t.Errorf("nextSerial(%d, phase %d, changed=%v, %v) = %d, want %d", tc.prev, tc.ph, tc.changed, tc.newest.Unix(), got, tc.want)
			}
		})
	}
}

func TestSerialGreater(t *testing.T) {
	for _, tc := range []struct {
		a, b uint32
		want bool
	}{
		{2, 1, true}, {1, 2, false}, {1, 1, false},
		{0, 1<<32 - 1, true}, {1<<32 - 1, 0, false},
		{1 << 31, 1, true}, {1<<31 + 1, 1, false}, // distance exactly 2^31 is undefined: not greater
	} {
		if got := serialGreater(tc.a, tc.b); got != tc.want {
			t.Errorf("serialGreater(%d, %d) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// stamped is a cluster's objects as a source reports them: one service,
// a change time and a fingerprint.
func stamped(sec int64, fp uint64) source.Objects {
	o := objs("web")
	o.Changed, o.Fingerprint = time.Unix(sec, 0), fp
	return o
}

// step is one thing a source tells the pipeline, or a rebuild.
type step func(s *Pipeline)

func replace(c string, sec int64, fp uint64) step {
	return func(s *Pipeline) { s.Sink().Update(c, source.Fixed(stamped(sec, fp))) }
}
func remove(c string) step                 { return func(s *Pipeline) { s.Sink().Remove(c) } }
func state(c string, st health.State) step { return func(s *Pipeline) { s.Sink().SetState(c, st) } }
func kick() step                           { return func(s *Pipeline) { s.Wake() } }
func build() step                          { return func(s *Pipeline) { s.Rebuild() } }
func synced(flag *bool) step               { return func(*Pipeline) { *flag = true } }

// run applies steps to s, then rebuilds and returns the serial.
func run(s *Pipeline, steps ...step) uint32 {
	for _, f := range steps {
		f(s)
	}
	return s.Rebuild().Serial
}

// fresh is run on a new pipeline: a replica started with no history.
func fresh(steps ...step) uint32 { return run(New(Config{}), steps...) }

func TestPipelineSerial(t *testing.T) {
	load := []step{replace("a", 1000, 11), replace("b", 2000, 22), replace("c", 500, 33)}
	for _, tc := range []struct {
		name string
		then []step
		want uint32
	}{
		{"a resync with the same fingerprint keeps the serial", []step{replace("a", 1000, 11), build()}, 2000},
		{"health states never move it", []step{state("a", health.Down), build(), state("b", health.Stale), kick(), build(), state("a", health.Up)}, 2000},
		{"an update takes its change time", []step{replace("c", 3000, 34)}, 3000},
		{"an update with an older time grows by one", []step{replace("c", 600, 34)}, 2001},
		{"a cluster leaving grows by one", []step{remove("b")}, 2001},
		{"a cluster that never had objects leaving does not", []step{state("x", health.Stale), build(), remove("x")}, 2000},
		{"a cluster joining with old objects grows by one", []step{replace("d", 100, 44)}, 2001},
		{"two changes in two builds grow twice", []step{remove("a"), build(), remove("b")}, 2002},
		{"an unknown fingerprint always counts", []step{replace("a", 1000, 0), build(), replace("a", 1000, 0)}, 2002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{})
			if got := run(s, load...); got != 2000 {
				t.Fatalf("first build: serial %d, want 2000", got)
			}
			if got := run(s, tc.then...); got != tc.want {
				t.Errorf("serial %d, want %d", got, tc.want)
			}
		})
	}
}

// TestStoreSerialReplicas checks that two replicas whose sources deliver the
// same clusters in different batches agree, and that a restart with no
// change recomputes the same serial.
func TestPipelineSerialReplicas(t *testing.T) {
	var aSynced, bSynced bool
	a := New(Config{Synced: func() bool { return aSynced }})
	b := New(Config{Synced: func() bool { return bSynced }})
	// Replica a builds after every cluster of the first load, replica b
	// once after all of them.
	run(a, replace("a", 1000, 11))
	run(a, replace("b", 2000, 22))
	ra := run(a, replace("c", 500, 33), synced(&aSynced))
	rb := run(b, replace("c", 500, 33), replace("a", 1000, 11), replace("b", 2000, 22), synced(&bSynced))
	if ra != 2000 || rb != 2000 {
		t.Fatalf("after the first load: %d and %d, want 2000 both", ra, rb)
	}
	// Without the synced gate, a's batches count as changes.
	if got := fresh(replace("a", 1000, 11), build(), replace("b", 2000, 22), build(), replace("c", 500, 33)); got != 2001 {
		t.Errorf("ungated replica answers %d, want 2001", got)
	}
	ra = run(a, replace("c", 3000, 34), state("a", health.Down))
	rb = run(b, state("b", health.Stale), replace("c", 3000, 34))
	if ra != 3000 || rb != 3000 {
		t.Errorf("after an update: %d and %d, want 3000 both", ra, rb)
	}
	restarted := fresh(replace("a", 1000, 11), replace("b", 2000, 22), replace("c", 3000, 34))
	if restarted != ra {
		t.Errorf("restart with no change: %d, want %d", restarted, ra)
	}
	if got := a.Snapshot().Serial; got != ra {
		t.Errorf("Snapshot().Serial %d, want %d", got, ra)
	}
}

// TestStoreSerialLoadedDuringBuild checks that a build during which the
// first load completes asks for one more build, after which a deletion
// grows the serial.
func TestPipelineSerialLoadedDuringBuild(t *testing.T) {
	calls := 0
	s := New(Config{Synced: func() bool { calls++; return calls > 1 }})
	s.Sink().Update("a", source.Fixed(stamped(1000, 11)))
	s.Sink().Update("b", source.Fixed(stamped(2000, 22)))
	<-s.wake // the Replaces' wake-up
	if got := s.Rebuild().Serial; got != 2000 {
		t.Fatalf("first build: %d, want 2000", got)
	}
	select {
	case <-s.wake:
	default:
		t.Fatal("no second build asked for")
	}
	if got := run(s); got != 2000 {
		t.Fatalf("second build: %d, want 2000", got)
	}
	if got := run(s, remove("b")); got != 2001 {
		t.Errorf("after a deletion: %d, want 2001", got)
	}
}

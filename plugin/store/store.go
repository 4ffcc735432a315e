// Package store keeps what sources said about every member cluster and
// turns it into federation snapshots. It implements source.Sink: sources
// call it from their own goroutines; a single builder goroutine rebuilds the
// snapshot off the query path, coalescing bursts of changes, and swaps it in
// atomically so that queries read it without locks.
package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/source"
)

// Config is how a Store builds snapshots and whom it tells.
type Config struct {
	// Options are passed to model.Build.
	Options model.Options
	// Settle is how long the builder waits after a change for more changes
	// before it rebuilds; 0 means 10ms.
	Settle time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnBuild, if set, is called from the builder with every new snapshot.
	OnBuild func(*model.Snapshot)
	// OnError, if set, is called with every error a source reports.
	OnError func(cluster string, err error)
	// Synced reports whether every source has sent its first full load.
	// Until a build sees it true, the SOA serial is taken afresh from the
	// change times at every build (see nextSerial), so replicas whose
	// sources deliver clusters in different batches still agree. Nil means
	// the sources are synced from the start.
	Synced func() bool
}

// Store is the sink of all sources and the holder of the current snapshot.
type Store struct {
	cfg  Config
	snap atomic.Pointer[model.Snapshot]
	kick chan struct{}

	mu       sync.Mutex
	clusters map[string]*model.Input
	version  uint64 // changes seen; guarded by mu
	built    atomic.Uint64

	// The SOA serial's state, guarded by mu: the fingerprint of every
	// cluster a source replaced, whether a fingerprint moved (or a cluster
	// joined or left) since the last build, and the store's phase.
	serial uint32
	prints map[string]uint64
	dirty  bool
	phase  phase
}

var _ source.Sink = (*Store)(nil)

// New returns a store with no clusters and no snapshot yet.
func New(cfg Config) *Store {
	if cfg.Settle <= 0 {
		cfg.Settle = 10 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{cfg: cfg, kick: make(chan struct{}, 1), clusters: map[string]*model.Input{}, prints: map[string]uint64{}}
}

// Snapshot returns the current snapshot, nil before the first build.
func (s *Store) Snapshot() *model.Snapshot { return s.snap.Load() }

// Replace implements source.Sink.
func (s *Store) Replace(cluster string, objs source.Objects) {
	s.mu.Lock()
	in := s.clusters[cluster]
	if in == nil {
		in = &model.Input{State: health.Up}
		s.clusters[cluster] = in
	}
	in.Objects = objs
	// A fingerprint of 0 is unknown: every Replace then counts as a change.
	if old, ok := s.prints[cluster]; !ok || old != objs.Fingerprint || objs.Fingerprint == 0 {
		s.dirty = true
	}
	s.prints[cluster] = objs.Fingerprint
	s.mu.Unlock()
	s.changed()
}

// Remove implements source.Sink.
func (s *Store) Remove(cluster string) {
	s.mu.Lock()
	delete(s.clusters, cluster)
	if _, ok := s.prints[cluster]; ok {
		delete(s.prints, cluster)
		s.dirty = true
	}
	s.mu.Unlock()
	s.changed()
}

// SetState implements source.Sink.
func (s *Store) SetState(cluster string, st health.State) {
	s.mu.Lock()
	in := s.clusters[cluster]
	if in == nil {
		in = &model.Input{}
		s.clusters[cluster] = in
	}
	old := in.State
	in.State = st
	s.mu.Unlock()
	if old != st {
		s.changed()
	}
}

// Error implements source.Sink.
func (s *Store) Error(cluster string, err error) {
	if s.cfg.OnError != nil {
		s.cfg.OnError(cluster, err)
	}
}

// Settled reports whether the current snapshot holds every change the
// sources reported so far.
func (s *Store) Settled() bool {
	s.mu.Lock()
	v := s.version
	s.mu.Unlock()
	return s.snap.Load() != nil && s.built.Load() == v
}

// Kick asks for a rebuild although no source reported a change: health
// verdicts that Options.Health gives have changed.
func (s *Store) Kick() { s.changed() }

func (s *Store) changed() {
	s.mu.Lock()
	s.version++
	s.mu.Unlock()
	s.poke()
}

// poke wakes Run.
func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run rebuilds the snapshot after changes until ctx is done.
func (s *Store) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		t := time.NewTimer(s.cfg.Settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.Rebuild()
	}
}

// Rebuild builds and swaps in a new snapshot now. Only one goroutine (Run,
// or a test) may call it.
func (s *Store) Rebuild() *model.Snapshot {
	// Read before the inputs: a source reports synced after its Replaces.
	synced := s.cfg.Synced == nil || s.cfg.Synced()
	now := s.cfg.Now()
	s.mu.Lock()
	in := make(map[string]*model.Input, len(s.clusters))
	var newest time.Time
	for name, ci := range s.clusters {
		cp := *ci
		in[name] = &cp
		if ci.Objects.Changed.After(newest) {
			newest = ci.Objects.Changed
		}
	}
	s.serial = nextSerial(s.serial, s.phase, s.dirty, newest)
	ph := s.phase
	s.dirty, s.phase = false, loading
	if synced || ph == loaded {
		s.phase = loaded
	}
	serial, version := s.serial, s.version
	s.mu.Unlock()
	if ph != loaded && !synced && s.cfg.Synced() {
		// The first load completed during this build: build once more,
		// so that the next change is counted as one.
		s.poke()
	}

	snap := model.Build(in, s.cfg.Options, serial, now)
	s.snap.Store(snap)
	s.built.Store(version)
	if s.cfg.OnBuild != nil {
		s.cfg.OnBuild(snap)
	}
	return snap
}

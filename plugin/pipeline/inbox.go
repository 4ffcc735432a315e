package pipeline

import (
	"sync"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/source"
)

// inbox is the sink of every source: what each said last about its
// clusters, kept until the loop gathers it. Sources call it from their own
// goroutines; only the loop gathers.
type inbox struct {
	wake    func() // wakes the loop; called with no lock held
	onError func(cluster string, err error)
	hist    *health.History // receives clusters' state changes; may be nil
	now     func() time.Time

	mu       sync.Mutex
	clusters map[string]*model.Input
	pending  map[string]source.Lister // clusters whose objects changed since the last gather
	removed  map[string]bool          // clusters removed while a gather lists
	version  uint64                   // changes seen
	since    time.Time                // when the oldest change not gathered yet came; zero if none

	// The SOA serial's state: the fingerprint of every cluster gathered,
	// whether a fingerprint moved (or a cluster joined or left) since the
	// last build, and the loop's phase.
	serial uint32
	prints map[string]uint64
	dirty  bool
	phase  phase

	// Partition sense: when each cluster was last reported down, and
	// since when no cluster is up (zero while one is).
	downAt    map[string]time.Time
	partSince time.Time
}

var _ source.Sink = (*inbox)(nil)

func newInbox(wake func(), onError func(string, error), hist *health.History, now func() time.Time) *inbox {
	return &inbox{
		wake: wake, onError: onError, hist: hist, now: now,
		clusters: map[string]*model.Input{},
		pending:  map[string]source.Lister{},
		removed:  map[string]bool{},
		prints:   map[string]uint64{},
		downAt:   map[string]time.Time{},
	}
}

// Update implements source.Sink.
func (b *inbox) Update(cluster string, objs source.Lister) {
	b.mu.Lock()
	b.pending[cluster] = objs
	b.bump()
	b.mu.Unlock()
	b.wake()
}

// Remove implements source.Sink.
func (b *inbox) Remove(cluster string) {
	b.mu.Lock()
	delete(b.clusters, cluster)
	delete(b.pending, cluster)
	delete(b.downAt, cluster)
	b.removed[cluster] = true
	b.sensePartition()
	if _, ok := b.prints[cluster]; ok {
		delete(b.prints, cluster)
		b.dirty = true
	}
	b.bump()
	b.mu.Unlock()
	b.wake()
}

// SetState implements source.Sink.
func (b *inbox) SetState(cluster string, st health.State) {
	b.mu.Lock()
	_, known := b.clusters[cluster]
	in := b.input(cluster)
	was := in.State
	changed := was != st
	in.State = st
	if changed {
		if st == health.Down {
			b.downAt[cluster] = b.now()
		}
		b.sensePartition()
		b.bump()
	}
	b.mu.Unlock()
	if changed && known {
		b.hist.Add(health.Transition{At: time.Now(), Signal: "cluster", What: cluster, From: was.String(), To: st.String()})
	}
	if changed {
		b.wake()
	}
}

// sensePartition notes when the last cluster that was up stopped being up,
// and forgets it once one is up again; b.mu is held. While no cluster of
// two or more is up, Meridian judges that it, not every cluster, is cut
// off: a cluster that goes down then is served as stale (effective).
func (b *inbox) sensePartition() {
	up := false
	for _, in := range b.clusters {
		up = up || in.State == health.Up
	}
	switch {
	case up || len(b.clusters) < 2:
		// One cluster lost says nothing of who is cut off.
		b.partSince = time.Time{}
	case b.partSince.IsZero():
		b.partSince = b.now()
	}
}

// effective returns the state cluster is built with: its reported state,
// except that while partitioned a cluster reported down after the
// partition began is stale. One down before or as it began stays down (a
// source that reports down first, without stale, says it knows). b.mu is
// held.
func (b *inbox) effective(cluster string, st health.State) health.State {
	if st == health.Down && !b.partSince.IsZero() && b.downAt[cluster].After(b.partSince) {
		return health.Stale
	}
	return st
}

// Error implements source.Sink.
func (b *inbox) Error(cluster string, err error) {
	if b.onError != nil {
		b.onError(cluster, err)
	}
}

// bump counts one change; b.mu is held.
func (b *inbox) bump() {
	b.version++
	if b.since.IsZero() {
		b.since = b.now()
	}
}

// oldest returns when the oldest change not gathered yet came, zero if
// none.
func (b *inbox) oldest() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.since
}

// input returns cluster's input, adding it; b.mu is held.
func (b *inbox) input(cluster string) *model.Input {
	in := b.clusters[cluster]
	if in == nil {
		in = &model.Input{State: health.Up}
		b.clusters[cluster] = in
	}
	return in
}

// changes returns the version of the changes seen so far.
func (b *inbox) changes() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.version
}

// gather lists the objects of the clusters that changed and returns a copy
// of every cluster's latest state, the SOA serial for a build of it, the
// version of the changes it holds and when the oldest of them came (zero
// if none). synced says whether every source has done its first full
// load; now is the build's time.
func (b *inbox) gather(synced bool, now time.Time) (model.Inputs, uint64, time.Time, phase) {
	b.mu.Lock()
	pending := b.pending
	b.pending = make(map[string]source.Lister, len(pending))
	clear(b.removed)
	version := b.version // what came in later is for the next build
	since := b.since
	b.since = time.Time{}
	b.mu.Unlock()

	// List outside the lock: a source's Lister may take a while, and
	// sources must not wait for it. What a cluster removed meanwhile
	// listed is dropped below, and so is what a cluster updated meanwhile
	// listed: the next gather lists it again.
	listed := make(map[string]source.Objects, len(pending))
	for name, l := range pending {
		listed[name] = l.Objects()
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for name, objs := range listed {
		if _, again := b.pending[name]; again || b.removed[name] {
			continue
		}
		b.input(name).Objects = objs
		// A fingerprint of 0 is unknown: every update then counts as a change.
		if old, ok := b.prints[name]; !ok || old != objs.Fingerprint || objs.Fingerprint == 0 {
			b.dirty = true
		}
		b.prints[name] = objs.Fingerprint
	}
	b.sensePartition() // a cluster that joined since is up
	in := model.Inputs{Clusters: make(map[string]*model.Input, len(b.clusters)), Now: now, Partitioned: !b.partSince.IsZero()}
	var newest time.Time
	for name, ci := range b.clusters {
		cp := *ci
		cp.State = b.effective(name, ci.State)
		in.Clusters[name] = &cp
		if ci.Objects.Changed.After(newest) {
			newest = ci.Objects.Changed
		}
	}
	b.serial = nextSerial(b.serial, b.phase, b.dirty, newest)
	ph := b.phase
	b.dirty, b.phase = false, loading
	if synced || ph == loaded {
		b.phase = loaded
	}
	in.Serial = b.serial
	return in, version, since, ph
}

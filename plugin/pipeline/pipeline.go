// Package pipeline makes the federation snapshots that answers are read
// from, in one loop (docs/architecture.md):
//
//  1. wait: for a change a source reports (through the Sink) or a health
//     verdict that changed (a passive transition fell due, a probe result
//     moved a target), then for the settle window, so that a burst of
//     changes makes one build;
//  2. gather: list the objects of the clusters that changed, and copy every
//     cluster's latest state and the SOA serial;
//  3. build: model.Build(inputs, verdicts), which changes nothing it is
//     given and returns the snapshot, the probe targets and the passive
//     observations;
//  4. publish: swap the snapshot in (queries read it without locks) and
//     hand it to each View (the resolver's local index, the report of
//     annotation problems);
//  5. hand the probe targets to the prober and the passive observations to
//     the passive tracker. A verdict that changes as a result only wakes
//     the loop (step 1).
package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/logging"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/source"
)

// DefaultSettle is the settle window when Config.Settle is zero.
const DefaultSettle = 20 * time.Millisecond

// View is a reader of every new snapshot that keeps something derived from
// it, such as an index. Publish is called from the loop, after the
// snapshot is swapped in and before it counts as settled.
type View interface {
	Publish(*model.Snapshot)
}

// Config is how a Pipeline builds snapshots and whom it tells.
type Config struct {
	// Build is passed to model.Build.
	Build model.Options
	// Settle is how long the loop waits after a change for more changes
	// before it builds; 0 means DefaultSettle.
	Settle time.Duration
	// Clock tells the build time, and the health trackers' time when their
	// configuration names no clock; nil means the system clock.
	Clock clock.Clock
	// Passive configures the passive tracker; its OnDue is the loop's.
	Passive health.PassiveConfig
	// Prober configures the prober; its OnResult is the loop's. Nil
	// means no probes: every probe verdict is up (the resolver role).
	Prober *health.ProberConfig
	// Views get every snapshot, in order.
	Views []View
	// Synced reports whether every source has done its first full load.
	// Until a build sees it true, the SOA serial is taken afresh from the
	// change times at every build (see nextSerial), so replicas whose
	// sources deliver clusters in different batches still agree. Nil means
	// the sources are synced from the start.
	Synced func() bool
	// History, if set, receives every transition of a cluster's state and
	// of the health trackers' verdicts (Passive and Prober get it unless
	// their configuration names another).
	History *health.History
	// OnBuild, if set, is called after each build is published with how
	// long gathering, building and publishing took.
	OnBuild func(time.Duration)
	// OnError, if set, is called with every error a source reports.
	OnError func(cluster string, err error)
	// Logger receives what the loop has to say. Nil discards it.
	Logger logging.Logger
}

// Pipeline is the loop and what it holds: the sources' inbox, the health
// trackers and the current snapshot.
type Pipeline struct {
	cfg     Config
	inbox   *inbox
	passive *health.Passive
	prober  *health.Prober // nil without probes
	wake    chan struct{}

	snap     atomic.Pointer[model.Snapshot]
	built    atomic.Uint64 // the version of the changes the snapshot holds
	building atomic.Int64  // when the oldest change of the build under way came, Unix ns; 0 if none

	probeErr string // the prober's last Set error; loop only
}

// New returns a pipeline with no clusters and no snapshot yet. Nothing
// runs until Run.
func New(cfg Config) *Pipeline {
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	cfg.Clock = clock.Or(cfg.Clock)
	cfg.Logger = logging.OrNop(cfg.Logger)
	p := &Pipeline{cfg: cfg, wake: make(chan struct{}, 1)}
	p.inbox = newInbox(p.Wake, cfg.OnError, cfg.History, cfg.Clock.Now)
	pc := cfg.Passive
	pc.OnDue = p.Wake
	if pc.History == nil {
		pc.History = cfg.History
	}
	if pc.Clock == nil {
		pc.Clock = cfg.Clock
	}
	p.passive = health.NewPassive(pc)
	if cfg.Prober != nil {
		prc := *cfg.Prober
		if prc.Clock == nil {
			prc.Clock = cfg.Clock
		}
		if prc.History == nil {
			prc.History = cfg.History
		}
		prc.OnResult = func(r health.Result) {
			if r.Changed {
				p.Wake()
			}
		}
		p.prober = health.NewProber(prc)
	}
	return p
}

// Sink is where the sources send what they observe.
func (p *Pipeline) Sink() source.Sink { return p.inbox }

// Snapshot returns the current snapshot, nil before the first build.
func (p *Pipeline) Snapshot() *model.Snapshot { return p.snap.Load() }

// Passive returns what the passive tracker remembers of shard k
// (explain).
func (p *Pipeline) Passive(k health.Key) (health.PassiveStatus, bool) { return p.passive.Status(k) }

// Probes returns the state of the probe targets of shard k, none without
// a prober (explain).
func (p *Pipeline) Probes(k health.Key) []health.ProbeStatus {
	if p.prober == nil {
		return nil
	}
	return p.prober.Targets(k)
}

// Behind returns how long the oldest change a source reported has waited
// for a snapshot that holds it: 0 when the snapshot holds every change.
// A loop that is stuck, or builds slower than changes come, shows here.
func (p *Pipeline) Behind() time.Duration {
	oldest := p.inbox.oldest()
	if b := p.building.Load(); b != 0 && (oldest.IsZero() || b < oldest.UnixNano()) {
		oldest = time.Unix(0, b)
	}
	if oldest.IsZero() {
		return 0
	}
	return max(p.cfg.Clock.Now().Sub(oldest), 0)
}

// Settled reports whether the current snapshot holds every change the
// sources reported so far.
func (p *Pipeline) Settled() bool {
	return p.snap.Load() != nil && p.built.Load() == p.inbox.changes()
}

// Wake asks the loop for a build. It never blocks.
func (p *Pipeline) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run runs the loop, and the prober, until ctx is done.
func (p *Pipeline) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if p.prober != nil {
		wg.Go(func() { p.prober.Run(ctx) })
	}
	for p.wait(ctx) {
		p.Rebuild()
	}
}

// wait waits for a wake-up and then the settle window; false when ctx is
// done first.
func (p *Pipeline) wait(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-p.wake:
	}
	t := time.NewTimer(p.cfg.Settle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Rebuild gathers, builds, publishes and hands the health work over now
// (steps 2 to 5), and returns the new snapshot. Only one goroutine (Run,
// or a test) may call it.
func (p *Pipeline) Rebuild() *model.Snapshot {
	start := time.Now()
	// Read before gathering: a source reports synced after its updates.
	synced := p.cfg.Synced == nil || p.cfg.Synced()
	in, version, since, ph := p.inbox.gather(synced, p.cfg.Clock.Now())
	if !since.IsZero() {
		p.building.Store(since.UnixNano())
	}
	if ph != loaded && !synced && p.cfg.Synced() {
		// The first load completed during this build: build once more,
		// so that the next change is counted as one.
		p.Wake()
	}

	in.Prev = p.snap.Load()
	built := model.Build(in, verdicts{p.passive, p.prober}, p.cfg.Build)
	p.notePartition(in.Prev, built.Snapshot)

	p.snap.Store(built.Snapshot)
	for _, v := range p.cfg.Views {
		v.Publish(built.Snapshot)
	}
	p.built.Store(version)
	p.building.Store(0)
	if p.cfg.OnBuild != nil {
		p.cfg.OnBuild(time.Since(start))
	}

	p.setProbes(built.Probes)
	p.passive.Record(built.Passive)
	return built.Snapshot
}

// notePartition logs and records the start and the end of a partition
// (model.Snapshot.Partitioned) between the snapshot before and now.
func (p *Pipeline) notePartition(prev, now *model.Snapshot) {
	was := prev != nil && prev.Partitioned
	if was == now.Partitioned {
		return
	}
	t := health.Transition{At: p.cfg.Clock.Now(), Signal: "partition", What: "meridian", From: "connected", To: "partitioned"}
	if now.Partitioned {
		p.cfg.Logger.Warningf("partitioned: no member cluster is up (%d clusters); serving each one's last state with the degraded TTL, and judging none down until one is up again", len(now.Clusters))
	} else {
		t.From, t.To = t.To, t.From
		p.cfg.Logger.Infof("partition over: a member cluster is up again")
	}
	p.cfg.History.Add(t)
}

// setProbes hands the prober its targets, logging a new error once.
func (p *Pipeline) setProbes(ts []health.Target) {
	if p.prober == nil {
		return
	}
	err := p.prober.Set(ts)
	switch {
	case err == nil:
		p.probeErr = ""
	case err.Error() != p.probeErr: // policy.Parse validates specs, so this is a bug
		p.cfg.Logger.Warningf("probes: %v", err)
		p.probeErr = err.Error()
	}
}

// verdicts answers model.Verdicts from the trackers, changing nothing.
type verdicts struct {
	passive *health.Passive
	prober  *health.Prober
}

func (v verdicts) Passive(k health.Key, h health.Handle, ok bool, rise, fall int) health.Observation {
	return v.passive.JudgeAt(k, h, ok, rise, fall)
}

func (v verdicts) Probe(t health.TargetKey) bool {
	if v.prober == nil {
		return true
	}
	up, _ := v.prober.Status(t)
	return up
}

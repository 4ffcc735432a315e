package health

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/logging"
)

// DefaultConcurrency is the most probes in flight when
// ProberConfig.Concurrency is zero.
const DefaultConcurrency = 64

// Target is one address to probe, and how.
type Target struct {
	TargetKey
	// Spec says how to probe. Check must not be None, Validate must pass,
	// and a port must be known: Addr's or Port (for a Host), else
	// Spec.Port.
	Spec Spec
}

// Result is the outcome of one probe.
type Result struct {
	// Target is the address probed.
	Target TargetKey
	// OK is true when the probe passed; Err says why it did not.
	OK  bool
	Err error
	// Duration is how long the probe took.
	Duration time.Duration
	// Up is the target's state after this result, with hysteresis;
	// Changed is true when this result changed it (a first result that
	// confirms the optimistic pending state is not a change).
	Up      bool
	Changed bool
}

// ProberConfig configures a Prober. Every field may be left zero.
type ProberConfig struct {
	// Concurrency is the most probes in flight at once. Zero or less means
	// DefaultConcurrency.
	Concurrency int
	// Clock tells the time and runs the scheduler's timer. Nil means the
	// system clock.
	Clock clock.Clock
	// Dialer opens probe connections. Nil means a net.Dialer.
	Dialer Dialer
	// Allow lists the networks probes may connect to, checked on every
	// connection after name resolution. Empty means any. With a Dialer
	// other than a *net.Dialer the check runs once connected (and the
	// connection is reset) rather than before connecting.
	Allow []netip.Prefix
	// Logger receives one line per transition and setup warnings. Nil
	// discards them.
	Logger logging.Logger
	// Registerer receives the probe metrics. Nil means no metrics.
	Registerer prometheus.Registerer
	// OnResult is called after every probe of a current target, from a
	// worker goroutine with no lock held; it should be quick. The caller
	// rebuilds what depends on Status when Result.Changed. Nil means none.
	OnResult func(Result)
	// History receives every transition; nil keeps none.
	History *History
	// Rand draws the jitter of probe times. Nil means a generator seeded
	// at random. The Prober serializes its use.
	Rand *rand.Rand
}

// Prober runs the active probes of a set of targets in the background (see
// "Probes" in docs/health.md) and keeps each target's state. It is safe for
// concurrent use.
type Prober struct {
	concurrency int
	clock       clock.Clock
	dialer      Dialer
	log         logging.Logger
	m           *proberMetrics
	onResult    func(Result)
	hist        *History
	base        time.Time     // times below are offsets from base
	wake        chan struct{} // tells the scheduler to look at the queue again
	running     atomic.Bool   // Run is running

	mu      sync.Mutex
	rand    *rand.Rand
	targets map[TargetKey]*target
	queue   queue       // targets waiting for their next probe, soonest first
	epoch   uint32      // counts Sets; a target's seen is the epoch of its last Set
	timer   clock.Timer // wakes the scheduler when the soonest target is due
}

// target is a Target and its probing state. Target and dial never change;
// p.mu guards the rest.
type target struct {
	Target
	dial    string        // "host:port" to dial
	next    time.Duration // when the next probe is due
	index   int           // position in p.queue; -1 while probed or removed
	seen    uint32        // the epoch of the last Set that listed it
	removed bool          // no longer in the set: drop its result
	h       Hysteresis
	last    Result        // the latest result; Target is zero before the first
	lastAt  time.Duration // when it came
	since   time.Duration // when h's state last changed, or the target was added
}

// NewProber returns a Prober with no targets; Set gives it some and Run
// probes them.
func NewProber(cfg ProberConfig) *Prober {
	p := &Prober{
		concurrency: cfg.Concurrency,
		clock:       clock.Or(cfg.Clock),
		dialer:      allowDialer(cfg.Dialer, cfg.Allow),
		log:         cfg.Logger,
		onResult:    cfg.OnResult,
		hist:        cfg.History,
		wake:        make(chan struct{}, 1),
		rand:        cfg.Rand,
		targets:     make(map[TargetKey]*target),
	}
	if p.concurrency <= 0 {
		p.concurrency = DefaultConcurrency
	}
	p.log = logging.OrNop(p.log)
	if p.rand == nil {
		p.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	p.m = newProberMetrics(cfg.Registerer, p.log)
	p.base = p.clock.Now()
	return p
}

// Set makes targets the set probed. Targets whose TargetKey and Spec are
// unchanged keep their state and schedule. New ones start pending (up);
// ones whose Spec changed keep their state but are not known until their
// first result under the new Spec, which sets it directly. Both have their
// first probe at a random offset within their first interval. The others
// stop, and the result of a probe of theirs in flight is dropped. Targets
// that cannot be probed are left out, and the error (wrapping ErrSpec)
// says how many and why the first.
func (p *Prober) Set(targets []Target) error {
	now := p.now()
	var (
		bad      int
		firstBad error
	)
	p.mu.Lock()
	p.epoch++
	for i := range targets {
		t := &targets[i]
		cur := p.targets[t.TargetKey]
		if cur != nil && cur.Spec == t.Spec {
			cur.seen = p.epoch
			continue
		}
		dial, err := dialAddress(t)
		if err != nil {
			if bad++; bad == 1 {
				firstBad = err
			}
			continue
		}
		nt := &target{Target: *t, dial: dial, index: -1, seen: p.epoch, since: now}
		if cur != nil { // a new Spec: keep the state until its first result
			nt.h, nt.since = cur.h, cur.since
			nt.h.Restart()
			p.remove(cur)
		}
		nt.next = now + time.Duration(p.rand.Int64N(int64(t.Spec.Interval)))
		p.targets[t.TargetKey] = nt
		p.queue.push(nt)
	}
	for _, cur := range p.targets {
		if cur.seen != p.epoch {
			p.remove(cur)
		}
	}
	n := len(p.targets)
	p.mu.Unlock()
	p.m.targets.Set(float64(n))
	p.poke()
	if bad > 0 {
		return fmt.Errorf("%d of %d targets not probed, the first: %w", bad, len(targets), firstBad)
	}
	return nil
}

// remove takes t out of the set and the queue. p.mu is held.
func (p *Prober) remove(t *target) {
	t.removed = true
	p.queue.remove(t)
	delete(p.targets, t.TargetKey)
}

// Status returns k's state: known is false until its first result, and up
// is true while a new target is pending (optimistic, as Route 53 treats a
// new health check); a target whose Spec changed keeps its last state
// until then. A target not in the set is reported as (true, false).
func (p *Prober) Status(k TargetKey) (up, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.targets[k]
	if t == nil {
		return true, false
	}
	return t.h.Up(), t.h.Known()
}

// ProbeStatus is what a Prober knows of one target.
type ProbeStatus struct {
	Target TargetKey
	Check  Check
	// Up is the state after hysteresis; Known is false until the first
	// result under the current Spec (Up is then the state kept, or true).
	Up, Known bool
	// Since is when Up last changed, or when the target was first probed.
	Since time.Time
	// Run is how many of the latest results in a row had the last one's
	// outcome; Rise and Fall are the runs that change the state.
	Run, Rise, Fall int
	// Last is the latest result (zero before the first) and LastAt when
	// it came.
	Last   Result
	LastAt time.Time
}

// Targets returns the status of every target of shard k, ordered by
// address. It walks all targets: it is for explaining, not for a hot path.
func (p *Prober) Targets(k Key) []ProbeStatus {
	p.mu.Lock()
	var out []ProbeStatus
	for _, t := range p.targets {
		if t.Key != k {
			continue
		}
		st := ProbeStatus{Target: t.TargetKey, Check: t.Spec.Check, Up: t.h.Up(), Known: t.h.Known(),
			Since: p.base.Add(t.since), Run: t.h.Run(), Rise: t.Spec.Rise, Fall: t.Spec.Fall, Last: t.last}
		if t.last.Target != (TargetKey{}) {
			st.LastAt = p.base.Add(t.lastAt)
		}
		out = append(out, st)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b ProbeStatus) int { return cmp.Compare(a.Target.String(), b.Target.String()) })
	return out
}

// dialAddress checks that t can be probed and returns the "host:port" to
// dial.
func dialAddress(t *Target) (string, error) {
	if t.Spec.Check == None {
		return "", fmt.Errorf("%w: %s: check is off", ErrSpec, t.TargetKey)
	}
	if err := t.Spec.Validate(); err != nil {
		return "", fmt.Errorf("%s: %w", t.TargetKey, err)
	}
	if t.Host != "" {
		port := t.Port
		if port == 0 {
			port = t.Spec.Port
		}
		if port == 0 {
			return "", fmt.Errorf("%w: %s: no port", ErrSpec, t.TargetKey)
		}
		return net.JoinHostPort(t.Host, strconv.Itoa(int(port))), nil
	}
	ap := t.Addr
	if !ap.Addr().IsValid() {
		return "", fmt.Errorf("%w: %s: no address or host", ErrSpec, t.TargetKey)
	}
	if ap.Port() == 0 {
		ap = netip.AddrPortFrom(ap.Addr(), t.Spec.Port)
	}
	if ap.Port() == 0 {
		return "", fmt.Errorf("%w: %s: no port", ErrSpec, t.TargetKey)
	}
	return ap.String(), nil
}

// now returns the clock's time as an offset from p.base.
func (p *Prober) now() time.Duration { return p.clock.Now().Sub(p.base) }

// poke wakes the scheduler, unless a wake-up is pending already.
func (p *Prober) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

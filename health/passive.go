package health

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/logging"
)

// DefaultPassiveInterval is the sampling interval Passive emulates when
// PassiveConfig.Interval is zero.
const DefaultPassiveInterval = 250 * time.Millisecond

// PassiveConfig configures a Passive.
type PassiveConfig struct {
	// Interval is the sampling interval Passive emulates: a shard goes
	// down once its raw signal has been bad for (fall-1) intervals without
	// a break, up once good for (rise-1). Zero means
	// DefaultPassiveInterval.
	Interval time.Duration
	// Clock tells the time and arms the timer. Nil means the system clock.
	Clock clock.Clock
	// Logger receives one line per transition. Nil discards them.
	Logger logging.Logger
	// Registerer receives meridian_health_transitions_total{signal="passive"}.
	// Nil means no metrics.
	Registerer prometheus.Registerer
	// History receives every transition; nil keeps none.
	History *History
	// OnDue is called, from a timer goroutine and with no lock held, when
	// a pending transition is due: the caller should call Observe again
	// for its shards (then Sweep). Nil means the caller looks on its own.
	OnDue func()
}

// Passive applies rise/fall hysteresis to the passive signal of shards
// (ready endpoints), which arrives as events rather than samples; see the
// package documentation. It is safe for concurrent use.
type Passive struct {
	interval time.Duration
	clock    clock.Clock
	log      logging.Logger
	trans    transitionCounters
	onDue    func()
	hist     *History
	base     time.Time // times below are offsets from base

	mu     sync.Mutex
	shards map[Key]*passiveShard
	epoch  uint32        // counts Sweeps; a shard's seen is the epoch of its last Observe
	timer  clock.Timer   // the latest timer armed; nil before the first
	gen    uint64        // counts armings; a timer only acts if it is the latest
	armed  bool          // timer is set to fire at due
	due    time.Duration // when the armed timer fires
}

// passiveShard is what Passive remembers of one shard.
type passiveShard struct {
	since time.Duration // when raw took its current value
	seen  uint32        // the epoch of the last Observe
	raw   bool          // the signal as last observed
	up    bool          // the stable state
	gone  bool          // forgotten by a sweep: a Handle to it is stale
}

// NewPassive returns a Passive that knows no shard yet.
func NewPassive(cfg PassiveConfig) *Passive {
	p := &Passive{
		interval: cfg.Interval,
		clock:    clock.Or(cfg.Clock),
		log:      cfg.Logger,
		onDue:    cfg.OnDue,
		hist:     cfg.History,
		shards:   make(map[Key]*passiveShard),
	}
	if p.interval <= 0 {
		p.interval = DefaultPassiveInterval
	}
	p.log = logging.OrNop(p.log)
	p.trans = newTransitions(cfg.Registerer, p.log, "passive")
	p.base = p.clock.Now()
	return p
}

// Observe records k's raw signal (ok: ready) at the current time, counted
// against rise and fall (values below 1 count as 1), and returns k's
// stable state and whether a transition is pending (the raw signal differs
// from it). While one is pending, a timer calls OnDue when it is due. A
// shard seen for the first time, or again after a Sweep forgot it, takes
// its raw state at once. It is Judge and Record of one shard, without the
// sweep.
func (p *Passive) Observe(k Key, ok bool, rise, fall int) (up, pending bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.shards[k]; s != nil && ok == s.raw && ok == s.up { // the common case
		s.seen = p.epoch
		return ok, false
	}
	o := p.judge(k, p.shards[k], ok, rise, fall)
	p.commit(&o)
	return o.up, o.pending
}

// Observation is one shard's passive state as Judge found it, for Record.
type Observation struct {
	key     Key
	s       *passiveShard // what p remembers of the shard; nil if nothing
	since   time.Duration // when raw took its current value
	due     time.Duration // when a pending transition is due
	raw, up bool
	pending bool
}

// Observed is an observation with the verdict up and pending, for
// verdicts that do not come from a Passive (tests, a replica told its
// verdicts). Record remembers it as a steady state, or a pending one with
// no due time.
func Observed(k Key, up, pending bool) Observation {
	return Observation{key: k, raw: up != pending, up: up, pending: pending}
}

// Up reports the shard's stable state.
func (o *Observation) Up() bool { return o.up }

// Pending reports whether the raw signal differs from the stable state.
func (o *Observation) Pending() bool { return o.pending }

// Handle is what the tracker remembers of one shard, as an observation
// found it: given back to JudgeAt for the same shard, it spares looking
// the shard up (a map lookup by three strings, a third of a snapshot
// build's time at 100,000 shards). The zero Handle is none.
type Handle struct{ s *passiveShard }

// Handle returns the handle of the shard o observed: the zero Handle when
// the tracker did not know it yet.
func (o *Observation) Handle() Handle { return Handle{o.s} }

// Judge returns what Observe would record for k now, changing nothing:
// the observation holds k's stable state and whether a transition is
// pending. Record commits a whole build's observations.
func (p *Passive) Judge(k Key, ok bool, rise, fall int) Observation {
	return p.JudgeAt(k, Handle{}, ok, rise, fall)
}

// JudgeAt is Judge given h, the handle of the last observation of k (or
// the zero Handle). A handle the tracker has since forgotten is ignored.
func (p *Passive) JudgeAt(k Key, h Handle, ok bool, rise, fall int) Observation {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := h.s
	if s == nil || s.gone {
		s = p.shards[k]
	}
	return p.judge(k, s, ok, rise, fall)
}

// judge is Judge of k, whose record is s (nil if none), with p.mu held.
func (p *Passive) judge(k Key, s *passiveShard, ok bool, rise, fall int) Observation {
	if s != nil && ok == s.raw && ok == s.up { // the common case: no clock
		return Observation{key: k, s: s, since: s.since, raw: ok, up: ok}
	}
	now := p.clock.Now().Sub(p.base)
	if s == nil {
		return Observation{key: k, since: now, raw: ok, up: ok}
	}
	o := Observation{key: k, s: s, since: s.since, raw: s.raw, up: s.up}
	if ok != o.raw {
		o.raw, o.since = ok, now
	}
	if o.raw == o.up {
		return o
	}
	need := fall
	if o.raw {
		need = rise
	}
	o.due = o.since + time.Duration(max(need, 1)-1)*p.interval
	if now < o.due {
		o.pending = true
		return o
	}
	o.up = o.raw
	return o
}

// Record commits the observations of one whole build: it remembers each
// shard's state, logs and counts every transition, arms the timer for the
// earliest pending one, and forgets every shard not observed (a Sweep).
func (p *Passive) Record(obs []Observation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range obs {
		p.commit(&obs[i])
	}
	p.sweep()
}

// commit makes o the remembered state of its shard; p.mu is held.
func (p *Passive) commit(o *Observation) {
	// o.s is current: only commit and sweep change the map, and both run
	// on the one goroutine that judged o.
	s := o.s
	if s == nil {
		if s = p.shards[o.key]; s == nil {
			s = &passiveShard{}
			p.shards[o.key] = s
		}
	}
	s.seen = p.epoch
	if o.pending {
		p.arm(o.due, p.clock.Now().Sub(p.base))
	}
	if s.raw == o.raw && s.up == o.up && s.since == o.since {
		return
	}
	was, known := s.up, o.s != nil
	s.since, s.raw, s.up = o.since, o.raw, o.up
	if !known || was == o.up {
		return
	}
	now := p.clock.Now().Sub(p.base)
	p.trans.count(o.up)
	tr := Transition{At: p.base.Add(now), Signal: "passive", What: o.key.String(), From: "up", To: "down",
		Detail: "not ready for " + (now - o.since).String()}
	if o.up {
		tr.From, tr.To, tr.Detail = "down", "up", "ready for "+(now-o.since).String()
	}
	p.log.Infof("passive %s: %s -> %s, %s", o.key, tr.From, tr.To, tr.Detail)
	p.hist.Add(tr)
}

// PassiveStatus is what a Passive remembers of one shard.
type PassiveStatus struct {
	Up bool // the stable state
	// Raw is the signal as last observed (enough ready endpoints), and
	// Since when it has had that value; a transition is pending while Raw
	// differs from Up.
	Raw   bool
	Since time.Time
}

// Status returns what p remembers of k, and false if it knows nothing of
// it (never observed, or forgotten by a sweep).
func (p *Passive) Status(k Key) (PassiveStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.shards[k]
	if s == nil {
		return PassiveStatus{}, false
	}
	return PassiveStatus{Up: s.up, Raw: s.raw, Since: p.base.Add(s.since)}, true
}

// arm makes the timer fire at due unless it fires earlier already. p.mu is
// held. Each arming gets a new timer and generation, so a timer that fires
// while it is being replaced cannot disarm its successor.
func (p *Passive) arm(due, now time.Duration) {
	if p.armed && p.due <= due {
		return
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.gen++
	gen := p.gen
	p.armed, p.due = true, due
	p.timer = p.clock.AfterFunc(due-now, func() { p.fire(gen) })
}

// fire runs when the timer of generation gen does: unless a later arming
// replaced it, it disarms the timer and calls OnDue.
func (p *Passive) fire(gen uint64) {
	p.mu.Lock()
	current := gen == p.gen
	if current {
		p.armed = false
	}
	p.mu.Unlock()
	if current && p.onDue != nil {
		p.onDue()
	}
}

// Sweep forgets every shard not observed since the previous Sweep (or
// since NewPassive).
func (p *Passive) Sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweep()
}

// sweep is Sweep with p.mu held.
func (p *Passive) sweep() {
	for k, s := range p.shards {
		if s.seen != p.epoch {
			s.gone = true
			delete(p.shards, k)
		}
	}
	p.epoch++
}

// Len returns how many shards Passive remembers.
func (p *Passive) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.shards)
}

package meridian

import (
	"errors"
	"sort"
	"strings"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// healthView answers model.Health from the passive tracker and the prober.
type healthView struct {
	passive *health.Passive
	prober  *health.Prober
}

var _ model.Health = healthView{}

func (v healthView) Passive(k health.Key, ok bool, rise, fall int) (up, pending bool) {
	return v.passive.Observe(k, ok, rise, fall)
}

func (v healthView) Probe(t health.TargetKey) bool {
	if v.prober == nil {
		return true
	}
	up, _ := v.prober.Status(t)
	return up
}

// newHealth makes the passive tracker and, for the authoritative role, the
// prober. Both ask the store for a rebuild when a verdict changes; neither
// runs until Start. The resolver role judges its local shard by its ready
// endpoints alone: probes test load-balancer addresses, which it does not
// answer with.
func (m *Meridian) newHealth() healthView {
	reg := registerer()
	v := healthView{
		passive: health.NewPassive(health.PassiveConfig{
			Interval:   m.cfg.PassiveInterval,
			Logger:     log,
			Registerer: reg,
			OnDue:      func() { m.store.Kick() },
		}),
	}
	if m.cfg.Role == Resolver {
		return v
	}
	v.prober = health.NewProber(health.ProberConfig{
		Concurrency: m.cfg.ProbeConcurrency,
		Allow:       m.cfg.ProbeNetworks,
		Logger:      log,
		Registerer:  reg,
		OnResult: func(r health.Result) {
			if r.Changed {
				m.store.Kick()
			}
		},
	})
	return v
}

// built is called by the store with every new snapshot: it forgets the
// health of shards that are gone, gives the prober the new targets and
// reports annotation problems that are new.
func (m *Meridian) built(snap *model.Snapshot) {
	m.health.passive.Sweep()
	if m.health.prober != nil {
		if err := m.health.prober.Set(snap.Probes); err != nil && err.Error() != m.probeErr {
			log.Warningf("probes: %v", err) // policy.Parse validates specs, so this is a bug
			m.probeErr = err.Error()
		}
	}
	if m.res != nil {
		m.res.rebuild(snap)
	}
	m.reportProblems(snap)
}

// reportProblems logs every service's annotation problems once, when they
// first appear or change, and counts them by reason.
func (m *Meridian) reportProblems(snap *model.Snapshot) {
	seen := make(map[model.Key]string, len(m.problems))
	for k, svc := range snap.Services {
		if len(svc.Problems) == 0 {
			continue
		}
		sig := problemSignature(svc.Problems)
		seen[k] = sig
		if m.problems[k] == sig {
			continue
		}
		for _, p := range svc.Problems {
			annotationProblems.WithLabelValues(problemReason(p.Err)).Inc()
			log.Warningf("service %s/%s: annotation %s=%q: %v; using the default", k.Namespace, k.Name, p.Annotation, p.Value, p.Err)
		}
	}
	for k := range m.problems {
		if _, ok := seen[k]; !ok {
			if _, exists := snap.Services[k]; exists {
				log.Infof("service %s/%s: annotations are valid again", k.Namespace, k.Name)
			}
		}
	}
	m.problems = seen
}

func problemSignature(ps []policy.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Annotation + "=" + p.Value + ": " + p.Err.Error()
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

// problemReason is the metric label of a problem: value, unknown or conflict.
func problemReason(err error) string {
	switch {
	case errors.Is(err, policy.ErrUnknown):
		return "unknown"
	case errors.Is(err, policy.ErrConflict):
		return "conflict"
	}
	return "value"
}

package meridian

import (
	"errors"
	"sort"
	"strings"

	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// problems is the view that reports annotation problems and host
// conflicts: it logs every service's and host's problems once, when they
// first appear or change, and counts them by reason, and logs each host
// conflict once, when it first appears and when it ends. Only services
// and hosts with problems cost it anything per snapshot.
type problems struct {
	last      map[problemKey]string // problems last reported; loop only
	conflicts map[string]struct{}   // host conflicts last reported
}

// problemKey names a service, or a host (host set) of the owner key.
type problemKey struct {
	key  model.Key
	host string
}

// what names k in logs.
func (k problemKey) what() string {
	if k.host != "" {
		return "host " + strings.TrimSuffix(k.host, ".") + " of " + k.key.Namespace + "/" + k.key.Name
	}
	return "service " + k.key.Namespace + "/" + k.key.Name
}

// in reports whether snap still has what k names.
func (k problemKey) in(snap *model.Snapshot) bool {
	if k.host == "" {
		return snap.Services[k.key] != nil
	}
	h := snap.Hosts[k.host]
	if rest, ok := strings.CutPrefix(k.host, "*."); ok {
		h = snap.Wildcards[rest]
	}
	return h != nil && h.Key == k.key
}

// Publish implements pipeline.View.
func (r *problems) Publish(snap *model.Snapshot) {
	seen := make(map[problemKey]string, len(r.last))
	report := func(k problemKey, svc *model.Service) {
		sig := problemSignature(svc.Problems)
		seen[k] = sig
		if r.last[k] == sig {
			return
		}
		for _, p := range svc.Problems {
			annotationProblems.WithLabelValues(problemReason(p.Err)).Inc()
			log.Warningf("%s: annotation %s=%q: %v; using the default", k.what(), p.Annotation, p.Value, p.Err)
		}
	}
	for k, svc := range snap.Services {
		if len(svc.Problems) > 0 {
			report(problemKey{key: k}, svc)
		}
	}
	for _, hs := range []map[string]*model.Service{snap.Hosts, snap.Wildcards} {
		for _, h := range hs {
			if len(h.Problems) > 0 {
				report(problemKey{key: h.Key, host: h.Host}, h)
			}
		}
	}
	for k := range r.last {
		if _, ok := seen[k]; !ok && k.in(snap) {
			log.Infof("%s: annotations are valid again", k.what())
		}
	}
	r.last = seen
	r.reportConflicts(snap.Conflicts)
}

// reportConflicts logs each host conflict once: when it first appears,
// and when it ends.
func (r *problems) reportConflicts(cs []model.Conflict) {
	now := make(map[string]struct{}, len(cs))
	for _, c := range cs {
		msg := c.String()
		now[msg] = struct{}{}
		if _, known := r.conflicts[msg]; !known {
			log.Warningf("%s", msg)
		}
	}
	for msg := range r.conflicts {
		if _, ok := now[msg]; !ok {
			log.Infof("resolved: %s", msg)
		}
	}
	r.conflicts = now
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

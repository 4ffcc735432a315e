package meridian

import (
	"errors"
	"sort"
	"strings"

	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// problems is the view that reports annotation problems: it logs every
// service's problems once, when they first appear or change, and counts
// them by reason.
type problems struct {
	last map[model.Key]string // problems last reported; loop only
}

// Publish implements pipeline.View.
func (r *problems) Publish(snap *model.Snapshot) {
	seen := make(map[model.Key]string, len(r.last))
	for k, svc := range snap.Services {
		if len(svc.Problems) == 0 {
			continue
		}
		sig := problemSignature(svc.Problems)
		seen[k] = sig
		if r.last[k] == sig {
			continue
		}
		for _, p := range svc.Problems {
			annotationProblems.WithLabelValues(problemReason(p.Err)).Inc()
			log.Warningf("service %s/%s: annotation %s=%q: %v; using the default", k.Namespace, k.Name, p.Annotation, p.Value, p.Err)
		}
	}
	for k := range r.last {
		if _, ok := seen[k]; !ok {
			if _, exists := snap.Services[k]; exists {
				log.Infof("service %s/%s: annotations are valid again", k.Namespace, k.Name)
			}
		}
	}
	r.last = seen
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

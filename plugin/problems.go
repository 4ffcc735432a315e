package meridian

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// problems is the view that reports annotation problems and host
// conflicts: it logs every service's and host's problems once, when they
// first appear or change, and counts them by reason, and logs each host
// conflict once, when it first appears and when it ends.
type problems struct {
	last      map[string]string   // problems last reported, by what; loop only
	conflicts map[string]struct{} // host conflicts last reported
}

// Publish implements pipeline.View.
func (r *problems) Publish(snap *model.Snapshot) {
	seen := make(map[string]string, len(r.last))
	exists := make(map[string]bool)
	report := func(what string, svc *model.Service) {
		exists[what] = true
		if len(svc.Problems) == 0 {
			return
		}
		sig := problemSignature(svc.Problems)
		seen[what] = sig
		if r.last[what] == sig {
			return
		}
		for _, p := range svc.Problems {
			annotationProblems.WithLabelValues(problemReason(p.Err)).Inc()
			log.Warningf("%s: annotation %s=%q: %v; using the default", what, p.Annotation, p.Value, p.Err)
		}
	}
	for k, svc := range snap.Services {
		report("service "+k.Namespace+"/"+k.Name, svc)
	}
	for _, hs := range []map[string]*model.Service{snap.Hosts, snap.Wildcards} {
		for _, h := range hs {
			report("host "+h.Host+" of "+h.Namespace+"/"+h.Name, h)
		}
	}
	for what := range r.last {
		if _, ok := seen[what]; !ok && exists[what] {
			log.Infof("%s: annotations are valid again", what)
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
		msg := conflictMessage(c)
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

// conflictMessage says what a host conflict is, for logs.
func conflictMessage(c model.Conflict) string {
	claim := fmt.Sprintf("host %s claimed by %s %s/%s in cluster %s", strings.TrimSuffix(c.Host, "."), c.Claim.Kind, c.Claim.Namespace, c.Claim.Name, c.Claim.Cluster)
	switch c.Why {
	case model.Taken:
		return fmt.Sprintf("%s: not answered, %s/%s claimed it first", claim, c.Owner.Namespace, c.Owner.Name)
	case model.NotAllowed:
		return claim + ": not answered, the host rules do not let namespace " + c.Claim.Namespace + " claim it"
	case model.FederationName:
		return claim + ": not answered, it is the zone's apex, a wildcard right below it or among the Federation v1 names (svc)"
	case model.RegionName:
		return claim + ": not answered, it is a region or zone name of the federation"
	case model.Duplicate:
		return claim + ": not answered, another object of that name claims it in the same cluster"
	}
	return claim + ": not answered"
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

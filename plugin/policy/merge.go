package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Annotated is the annotations of a federated service's Service in one
// member cluster.
type Annotated struct {
	Cluster     string
	Annotations map[string]string
}

// Merge returns the annotations of a service whose Services in several
// member clusters carry annotations, anns being in cluster-name order. For
// each key the value of the first cluster that has it wins; a key on which
// clusters disagree is reported once, as a Problem wrapping ErrConflict
// that names every cluster and its value. Problems are sorted by key.
//
// Merge allocates only when it must: it returns nil when no cluster has
// annotations, and the first annotated cluster's own map (which the caller
// must not modify) when the others add no key to it.
func Merge(anns []Annotated) (map[string]string, []Problem) {
	first := slices.IndexFunc(anns, func(a Annotated) bool { return len(a.Annotations) > 0 })
	if first < 0 {
		return nil, nil
	}
	m := merger{merged: anns[first].Annotations, first: anns[first].Cluster}
	for _, a := range anns[first+1:] {
		for k, v := range a.Annotations {
			m.add(a.Cluster, k, v)
		}
	}
	return m.merged, m.problems()
}

// merger merges annotations cluster by cluster. merged is the first
// cluster's map until another cluster adds a key, then a copy that owner
// maps the added keys in.
type merger struct {
	merged    map[string]string
	first     string            // the cluster merged first came from
	owner     map[string]string // key -> cluster, for keys not from first
	copied    bool
	conflicts map[string]*conflict
}

// conflict is one key the clusters disagree on.
type conflict struct {
	owner, value string
	others       []string // "cluster=value" of each disagreeing cluster
}

func (m *merger) add(cluster, k, v string) {
	w, ok := m.merged[k]
	switch {
	case !ok:
		if !m.copied {
			m.merged = cloneMap(m.merged)
			m.owner = make(map[string]string)
			m.copied = true
		}
		m.merged[k] = v
		m.owner[k] = cluster
	case w != v:
		if m.conflicts == nil {
			m.conflicts = make(map[string]*conflict)
		}
		c := m.conflicts[k]
		if c == nil {
			owner, ok := m.owner[k]
			if !ok {
				owner = m.first
			}
			c = &conflict{owner: owner, value: w}
			m.conflicts[k] = c
		}
		c.others = append(c.others, fmt.Sprintf("%s has %q", cluster, v))
	}
}

// problems reports the conflicts, sorted by key.
func (m *merger) problems() []Problem {
	if len(m.conflicts) == 0 {
		return nil
	}
	ps := make([]Problem, 0, len(m.conflicts))
	for k, c := range m.conflicts {
		err := fmt.Errorf("%w: %s has %q, %s; using %s's value", ErrConflict,
			c.owner, c.value, strings.Join(c.others, ", "), c.owner)
		ps = append(ps, Problem{Annotation: k, Value: c.value, Err: err})
	}
	sortProblems(ps)
	return ps
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sortProblems sorts problems by annotation key, keeping the order of
// problems of one key.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int { return strings.Compare(a.Annotation, b.Annotation) })
}

package policy

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	a := map[string]string{AnnPolicy: "failover", AnnFailover: "a, b"}
	tests := []struct {
		name  string
		in    []Annotated
		want  map[string]string
		same  bool     // the result is the first annotated cluster's own map
		probs []string // per problem: key, then substrings of the message
	}{
		{name: "none", in: nil, want: nil},
		{name: "no cluster has annotations", in: []Annotated{{"a", nil}, {"b", map[string]string{}}}, want: nil},
		{name: "one cluster", in: []Annotated{{"a", nil}, {"b", a}, {"c", nil}}, want: a, same: true},
		{name: "clusters agree", in: []Annotated{{"a", a}, {"b", maps.Clone(a)}}, want: a, same: true},
		{name: "later cluster has fewer keys", in: []Annotated{{"a", a}, {"b", map[string]string{AnnPolicy: "failover"}}},
			want: a, same: true},
		{name: "union of keys",
			in:   []Annotated{{"a", map[string]string{AnnPolicy: "weighted"}}, {"b", map[string]string{AnnWeights: "a=1"}}},
			want: map[string]string{AnnPolicy: "weighted", AnnWeights: "a=1"}},
		{name: "first cluster wins a conflict",
			in:    []Annotated{{"a", map[string]string{AnnShards: "2"}}, {"b", map[string]string{AnnShards: "3"}}},
			want:  map[string]string{AnnShards: "2"},
			same:  true,
			probs: []string{AnnShards, `a has "2"`, `b has "3"`}},
		{name: "a conflict is reported once with every cluster",
			in: []Annotated{{"a", map[string]string{AnnShards: "2"}}, {"b", map[string]string{AnnShards: "3"}},
				{"c", map[string]string{AnnShards: "2"}}, {"d", map[string]string{AnnShards: "4"}}},
			want:  map[string]string{AnnShards: "2"},
			same:  true,
			probs: []string{AnnShards, `a has "2", b has "3", d has "4"; using a's value`}},
		{name: "a key first set by a later cluster",
			in: []Annotated{{"a", map[string]string{AnnPolicy: "closest"}}, {"b", map[string]string{AnnSpill: "10"}},
				{"c", map[string]string{AnnSpill: "20", AnnPolicy: "roundrobin"}}},
			want: map[string]string{AnnPolicy: "closest", AnnSpill: "10"},
			probs: []string{AnnPolicy, `a has "closest", c has "roundrobin"`,
				AnnSpill, `b has "10", c has "20"; using b's value`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := make([]map[string]string, len(tc.in))
			for i, a := range tc.in {
				before[i] = maps.Clone(a.Annotations)
			}
			got, probs := Merge(tc.in)
			if !maps.Equal(got, tc.want) || (tc.want == nil) != (got == nil) {
				t.Errorf("merged %v, want %v", got, tc.want)
			}
			if same := sameAsFirst(got, tc.in); same != tc.same {
				t.Errorf("result is the first annotated cluster's map: %v, want %v", same, tc.same)
			}
			for i, a := range tc.in {
				if !maps.Equal(a.Annotations, before[i]) {
					t.Errorf("cluster %s's annotations changed to %v", a.Cluster, a.Annotations)
				}
			}
			checkConflicts(t, probs, tc.probs)
		})
	}
}

// sameAsFirst reports whether m is the first non-empty map of in.
func sameAsFirst(m map[string]string, in []Annotated) bool {
	for _, a := range in {
		if len(a.Annotations) > 0 {
			return reflect.ValueOf(m).UnsafePointer() == reflect.ValueOf(a.Annotations).UnsafePointer()
		}
	}
	return false
}

// checkConflicts checks probs against want: each key followed by the
// substrings its message must hold (a want entry starting with the
// prefix is a key).
func checkConflicts(t *testing.T, probs []Problem, want []string) {
	t.Helper()
	var keys []string
	for _, w := range want {
		if strings.HasPrefix(w, Prefix) {
			keys = append(keys, w)
		}
	}
	if len(probs) != len(keys) {
		t.Fatalf("problems %v, want keys %v", probs, keys)
	}
	i := -1
	for _, w := range want {
		if strings.HasPrefix(w, Prefix) {
			i++
			if p := probs[i]; p.Annotation != w || !errors.Is(p.Err, ErrConflict) {
				t.Errorf("problem %d is %s: %v, want %s wrapping ErrConflict", i, p.Annotation, p.Err, w)
			}
			continue
		}
		if msg := probs[i].Err.Error(); !strings.Contains(msg, w) {
			t.Errorf("problem %q does not say %q", msg, w)
		}
	}
}

func TestMergeAllocs(t *testing.T) {
	none := make([]Annotated, 8)
	for i := range none {
		none[i].Cluster = string(rune('a' + i))
	}
	same := []Annotated{{"a", map[string]string{AnnShards: "2"}}, {"b", map[string]string{AnnShards: "2"}}}
	for name, in := range map[string][]Annotated{"no annotations": none, "clusters agree": same} {
		if n := testing.AllocsPerRun(100, func() { Merge(in) }); n != 0 {
			t.Errorf("%s: Merge allocates %v times, want 0", name, n)
		}
	}
}

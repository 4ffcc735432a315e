package hosts

import (
	"slices"
	"testing"
	"time"
)

func TestOwner(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := func(cluster, ns, name string, age int) Claim {
		return Claim{Cluster: cluster, Namespace: ns, Name: name, Kind: "Ingress", Created: t0.Add(time.Duration(age) * time.Hour)}
	}
	for _, tc := range []struct {
		name      string
		claims    []Claim
		owned     []Claim
		conflicts []Claim
	}{
		{"none", nil, nil, nil},
		{"one object in every cluster", []Claim{c("a", "shop", "web", 3), c("b", "shop", "web", 1)},
			[]Claim{c("a", "shop", "web", 3), c("b", "shop", "web", 1)}, nil},
		{"the oldest claim owns", []Claim{c("a", "shop", "web", 2), c("a", "evil", "web", 5), c("b", "evil", "web", 1), c("b", "shop", "web", 0)},
			[]Claim{c("a", "shop", "web", 2), c("b", "shop", "web", 0)}, []Claim{c("a", "evil", "web", 5), c("b", "evil", "web", 1)}},
		{"equal times: namespace, then name", []Claim{c("a", "b-ns", "x", 0), c("a", "a-ns", "z", 0), c("b", "a-ns", "y", 0)},
			[]Claim{c("b", "a-ns", "y", 0)}, []Claim{c("a", "b-ns", "x", 0), c("a", "a-ns", "z", 0)}},
	} {
		owned, conflicts := Owner(tc.claims)
		if !slices.Equal(owned, tc.owned) || !slices.Equal(conflicts, tc.conflicts) {
			t.Errorf("%s: Owner = %v, %v; want %v, %v", tc.name, owned, conflicts, tc.owned, tc.conflicts)
		}
	}
	// One object, two kinds: an Ingress in one cluster, an HTTPRoute in another.
	ing, route := c("a", "shop", "web", 1), c("b", "shop", "web", 2)
	route.Kind = "HTTPRoute"
	if owned, conflicts := Owner([]Claim{route, ing}); len(owned) != 2 || conflicts != nil {
		t.Errorf("an Ingress and an HTTPRoute of one name: owned %v, conflicts %v; want both owned", owned, conflicts)
	}
}

func TestAllowed(t *testing.T) {
	rules := []Rule{
		{Suffix: "example.com.", Namespaces: []string{"platform"}},
		{Suffix: "shop.example.com.", Namespaces: []string{"shop", "platform"}},
	}
	for _, tc := range []struct {
		host, ns string
		want     bool
	}{
		{"www.example.com", "platform", true},
		{"www.example.com", "shop", false},
		{"shop.example.com", "shop", true},      // at the rule's suffix
		{"cart.shop.example.com", "shop", true}, // the longest rule decides
		{"*.shop.example.com", "shop", true},    // a wildcard at its suffix's rule
		{"*.example.com", "shop", false},
		{"cart.shop.example.com", "evil", false},
		{"shop.example.org", "evil", true}, // under no rule
		{"badexample.com", "evil", true},   // not below example.com
	} {
		if got := Allowed(must(tc.host), tc.ns, rules); got != tc.want {
			t.Errorf("Allowed(%s, %s) = %v, want %v", tc.host, tc.ns, got, tc.want)
		}
	}
	if !Allowed(must("a.example.com"), "any", nil) {
		t.Error("no rules: a namespace was refused")
	}
}

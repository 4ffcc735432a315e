package hosts

import (
	"slices"
	"strings"
	"time"
)

// Claim is one object's claim on a host in one member cluster.
type Claim struct {
	Cluster string
	// Namespace and Name are the object's; the kind is not part of who
	// claims (see Owner).
	Namespace, Name string
	Kind            string    // "Ingress", "HTTPRoute" or "GRPCRoute", for reports
	Created         time.Time // the object's creation timestamp
}

// Owner returns whom a host belongs to among its claims: the namespace
// and name whose oldest claim, in any cluster, is the oldest (creation
// time, then namespace, then name). The owner's claims, one per cluster
// it has, are the host's shards; the others are conflicts, to be reported
// and not answered. Claims of one namespace and name are one federated
// object whatever their kind, so a host may be an Ingress in some clusters
// and an HTTPRoute in others (a migration). Both results are in the
// order of claims; owned is nil when there are no claims.
func Owner(claims []Claim) (owned, conflicts []Claim) {
	if len(claims) == 0 {
		return nil, nil
	}
	first := Oldest(claims)
	for _, c := range claims {
		if c.Namespace == first.Namespace && c.Name == first.Name {
			owned = append(owned, c)
		} else {
			conflicts = append(conflicts, c)
		}
	}
	return owned, conflicts
}

// Oldest returns the claim that decides who owns a host (see Owner); claims
// must not be empty.
func Oldest(claims []Claim) Claim {
	return slices.MinFunc(claims, func(a, b Claim) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// Rule lets only Namespaces claim hosts at or below Suffix (lower case,
// fully qualified), as ExternalDNS's domain filters restrict what a
// source may publish.
type Rule struct {
	Suffix     string
	Namespaces []string
}

// Allowed reports whether namespace ns may claim h under rules: the rule
// with the longest suffix that h is at or below decides; a host under no
// rule may be claimed by any namespace. A wildcard host is below its
// suffix's rules and at the rule of its suffix itself.
func Allowed(h Host, ns string, rules []Rule) bool {
	var decide *Rule
	for i := range rules {
		r := &rules[i]
		if (h.Suffix() == r.Suffix || strings.HasSuffix(h.Suffix(), "."+r.Suffix)) &&
			(decide == nil || len(r.Suffix) > len(decide.Suffix)) {
			decide = r
		}
	}
	return decide == nil || slices.Contains(decide.Namespaces, ns)
}

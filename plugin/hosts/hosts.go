// Package hosts holds the rules for the host names of Ingress rules and
// Gateway API routes that Meridian is to answer (Federated Ingress, issue
// 12): which host strings are names, how a Gateway listener's hostname
// narrows a route's, where a host falls among the served zones, and which
// host a query name looks up. It has no I/O and imports no Kubernetes
// package; docs/ingress-and-gateway.md gives the reasons.
package hosts

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/meridian-dns/meridian/internal/dnsname"
)

// Host is a host name as Ingress and Gateway API write it, lower case and
// fully qualified: an exact name or a wildcard.
type Host struct {
	// Name is the host with its trailing dot: "shop.example.com." or
	// "*.shop.example.com.".
	Name string
	// Wildcard is true when Name starts with "*.".
	Wildcard bool
}

// Suffix returns the name a wildcard host matches below
// ("shop.example.com." for "*.shop.example.com."); an exact host's Name.
func (h Host) Suffix() string {
	if h.Wildcard {
		return h.Name[2:]
	}
	return h.Name
}

// ErrHost is wrapped by every error of Parse.
var ErrHost = errors.New("invalid host")

// Parse checks a host as an Ingress rule or a Gateway API hostname writes
// it: an RFC 1123 name that is not an IP address, whose only wildcard is a
// whole leftmost label "*" followed by at least one label (the rule of
// both APIs). It returns the host lower case and fully qualified.
func Parse(s string) (Host, error) {
	rest, wild := strings.CutPrefix(s, "*.")
	if strings.Contains(rest, "*") {
		return Host{}, fmt.Errorf("%w %q: a wildcard is only the whole leftmost label", ErrHost, s)
	}
	name, err := dnsname.CheckHost(rest)
	if err != nil {
		return Host{}, fmt.Errorf("%w %q: %v", ErrHost, s, err)
	}
	if wild {
		return Host{Name: "*." + name, Wildcard: true}, nil
	}
	return Host{Name: name}, nil
}

// covers reports whether the wildcard w matches n, exact or wildcard, as
// Gateway API matches a listener's and a route's hostnames: by suffix,
// one label or more ("*.example.com" covers "a.example.com",
// "a.b.example.com" and "*.a.example.com", never "example.com").
func covers(w, n Host) bool {
	return n.Name == w.Name || strings.HasSuffix(n.Name, "."+w.Suffix())
}

// Intersect returns the hostname that a route's hostname r serves through
// a listener whose hostname is l, by the Gateway API rules: the more
// specific of the two when one matches the other; false when neither does.
func Intersect(l, r Host) (Host, bool) {
	switch {
	case l.Name == r.Name:
		return r, true
	case l.Wildcard && covers(l, r):
		return r, true
	case r.Wildcard && covers(r, l):
		return l, true
	}
	return Host{}, false
}

// Effective returns the hostnames a route serves through one listener:
// the route's hostnames narrowed by the listener's (nil: the listener
// names none, so every route hostname), or the listener's when the route
// names none. Duplicates are dropped; the route's order is kept. A route
// and a listener that both name none serve any host: there is no name to
// answer, so Effective returns none.
func Effective(listener *Host, route []Host) []Host {
	if len(route) == 0 {
		if listener == nil {
			return nil
		}
		return []Host{*listener}
	}
	out := make([]Host, 0, len(route))
	for _, h := range route {
		if listener != nil {
			var ok bool
			if h, ok = Intersect(*listener, h); !ok {
				continue
			}
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// Placement is where a host falls among the served zones.
type Placement uint8

// The placements.
const (
	// Outside is in no served zone: ignored (and counted).
	Outside Placement = iota
	// Inside is below a served zone, clear of the Federation v1 names:
	// answered.
	Inside
	// Conflict is the zone's apex, a wildcard directly below it, or a name
	// among the Federation v1 names (a "svc" label among the three
	// rightmost below the zone, where the federation's names have it):
	// refused.
	Conflict
)

// The Federation v1 names have the label FederationLabel among the
// FederationDepth rightmost labels below the zone (<fed>.svc, then a region
// and a zone after it: package answer parses them so), and hosts there
// conflict with them.
const (
	FederationLabel = "svc"
	FederationDepth = 3
)

// Place returns the served zone that holds h, the longest when zones
// nest, and where h falls in it. zones are lower case and fully qualified.
func Place(h Host, zones []string) (zone string, p Placement) {
	for _, z := range zones {
		if len(z) > len(zone) && (h.Name == z || strings.HasSuffix(h.Name, "."+z)) {
			zone = z
		}
	}
	switch {
	case zone == "":
		return "", Outside
	case h.Name == zone, h.Wildcard && h.Suffix() == zone:
		return zone, Conflict
	}
	// The FederationDepth rightmost labels below the zone, without
	// allocating: a build places every host.
	rel := strings.TrimSuffix(h.Name, "."+zone)
	for range FederationDepth {
		i := strings.LastIndexByte(rel, '.')
		if rel[i+1:] == FederationLabel {
			return zone, Conflict
		}
		if i < 0 {
			break
		}
		rel = rel[:i]
	}
	return zone, Inside
}

// WildcardSuffix returns the Suffix of the wildcard host that answers
// qname when no exact host does: qname without its first label, as Ingress
// matches a wildcard (one label exactly: "*.shop.example.com." answers
// "a.shop.example.com.", not "a.b.shop.example.com."). qname is lower case
// and fully qualified; false for a name of one label. It does not
// allocate: the suffix is a part of qname.
func WildcardSuffix(qname string) (string, bool) {
	i := strings.IndexByte(qname, '.')
	if i < 0 || i == len(qname)-1 {
		return "", false
	}
	return qname[i+1:], true
}

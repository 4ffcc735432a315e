package kube

import (
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/kubeobj"
)

// A route's source.Ingress is joined from the route and its Gateways each
// time the cluster's objects are listed. A snapshot build reuses what it
// made from an Ingress while it is the same struct (model.Build), so the
// join is kept, and made again only when the route or one of the Gateways
// it looked up is another object than last time.

// joinedRoute is one route as last joined.
type joinedRoute struct {
	gateways []lookup // the Gateways it looked up, found or not
	out      *source.Ingress
}

// lookup is one Gateway a join looked up, and what it found (nil: none).
type lookup struct {
	key string
	obj *object
}

// join returns the source.Ingress of every route, joined with gateways
// (by namespace/name), reusing the last join of a route whose inputs are
// the same objects.
func (m *member) join(routes []*object, gateways map[string]*object) []*source.Ingress {
	m.joinMu.Lock()
	defer m.joinMu.Unlock()
	next := make(map[*object]*joinedRoute, len(routes))
	out := make([]*source.Ingress, 0, len(routes))
	for _, r := range routes {
		j := m.joined[r]
		if j == nil || !sameLookups(j.gateways, gateways) {
			j = &joinedRoute{}
			in := kubeobj.JoinRoute(r.route, func(ns, name string) *kubeobj.Gateway {
				key := ns + "/" + name
				g := gateways[key]
				j.gateways = append(j.gateways, lookup{key, g})
				if g == nil {
					return nil
				}
				return g.gateway
			})
			j.out = &in
		}
		next[r] = j
		out = append(out, j.out)
	}
	m.joined = next
	return out
}

// sameLookups reports whether looking up ls in gateways finds the same
// objects again.
func sameLookups(ls []lookup, gateways map[string]*object) bool {
	for _, l := range ls {
		if gateways[l.key] != l.obj {
			return false
		}
	}
	return true
}

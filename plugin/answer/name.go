// Package answer is Meridian's answer logic with no I/O: it parses a query
// name into its parts and chooses the shards an answer names. Everything
// here is a pure function of (snapshot, client location, question), so
// tests call it directly.
//
// Names follow Kubernetes Cluster Federation v1, relative to the zone:
//
//	level   name                                     labels from the right
//	global  <svc>.<ns>.<fed>.svc                     svc fed ns svc
//	region  <svc>.<ns>.<fed>.svc.<region>            region svc fed ns svc
//	zone    <svc>.<ns>.<fed>.svc.<zone>.<region>     region zone svc fed ns svc
//
// and SRV names prefix any of these with _<port>._<proto>.
package answer

import "github.com/meridian-dns/meridian/plugin/hosts"

// Level is the part of the federation a name asks about.
type Level uint8

// The levels, widest first.
const (
	Global Level = iota
	Region
	Zone
)

// String returns the level's name as used in metrics.
func (l Level) String() string {
	switch l {
	case Region:
		return "region"
	case Zone:
		return "zone"
	}
	return "global"
}

// Kind says what a name is in the zone's tree.
type Kind uint8

// The kinds of names.
const (
	// Unknown is no name Meridian can have: NXDOMAIN.
	Unknown Kind = iota
	// Apex is the zone's own name.
	Apex
	// Node is an interior name; it exists (as an empty non-terminal) only
	// if the snapshot has a name below it.
	Node
	// Service is a service name at some level.
	Service
	// SRV is _<port>._<proto>.<service name>.
	SRV
	// Host is a host of Ingresses or Gateway API routes (FindHost): a
	// name of the global level's kind, outside the federation's tree.
	Host
)

// maxLabels is the most labels a name of the federation has below the zone.
const maxLabels = 8

// Name is a parsed query name. Its strings are substrings of the parsed
// (lower-case) name, so parsing does not allocate.
type Name struct {
	Kind      Kind
	Level     Level
	Region    string // set for the region and zone levels
	Zone      string // set for the zone level
	Federated bool   // the name is at or below <fed>.svc
	Namespace string // "" above the namespace
	Service   string // "" above the service
	Proto     string // without the underscore; for SRV and the _proto node
	Port      string // without the underscore; SRV only
}

// Parse parses the lower-case name qname, which must end in the lower-case
// zone origin (both fully qualified), for the federation fed.
func Parse(qname, origin, fed string) Name {
	if len(qname) < len(origin) {
		return Name{}
	}
	rel := qname[:len(qname)-len(origin)]
	if rel == "" {
		return Name{Kind: Apex}
	}
	var l [maxLabels]string
	n := 0
	end := len(rel) - 1 // drop the dot before the origin
	for i := end - 1; i >= -1; i-- {
		if i >= 0 && rel[i] != '.' {
			continue
		}
		if n == maxLabels || i+1 == end {
			return Name{} // too deep, or an empty label
		}
		l[n] = rel[i+1 : end]
		n++
		end = i
	}
	return parseLabels(l[:n], fed)
}

// parseLabels parses the labels of a relative name, rightmost first.
func parseLabels(l []string, fed string) Name {
	k := -1
	for i := 0; i < hosts.FederationDepth && i < len(l); i++ {
		if l[i] == hosts.FederationLabel {
			k = i
			break
		}
	}
	if k < 0 {
		switch len(l) {
		case 1:
			return Name{Kind: Node, Level: Region, Region: l[0]}
		case 2:
			return Name{Kind: Node, Level: Zone, Region: l[0], Zone: l[1]}
		}
		return Name{}
	}
	nm := Name{Kind: Node, Level: Level(k)}
	if k >= 1 {
		nm.Region = l[0]
	}
	if k == 2 {
		nm.Zone = l[1]
	}
	rest := l[k+1:]
	if len(rest) == 0 {
		return nm
	}
	if rest[0] != fed {
		return Name{}
	}
	nm.Federated = true
	switch len(rest) {
	case 1:
		return nm
	case 2:
		nm.Namespace = rest[1]
		return nm
	}
	nm.Namespace, nm.Service = rest[1], rest[2]
	switch len(rest) {
	case 3:
		nm.Kind = Service
		return nm
	case 4:
		if p, ok := underscore(rest[3]); ok {
			nm.Proto = p
			return nm
		}
	case 5:
		p, ok1 := underscore(rest[3])
		port, ok2 := underscore(rest[4])
		if ok1 && ok2 {
			nm.Kind, nm.Proto, nm.Port = SRV, p, port
			return nm
		}
	}
	return Name{}
}

func underscore(label string) (string, bool) {
	if len(label) < 2 || label[0] != '_' {
		return "", false
	}
	return label[1:], true
}

// Format writes the service or SRV name nm at its level, under origin (the
// zone, fully qualified) for the federation fed: the one builder of the
// names Parse reads, so that Parse(nm.Format(fed, origin), origin, fed) is
// nm again.
func (nm Name) Format(fed, origin string) string {
	// One concatenation, one allocation: the parts a name does not have
	// are empty.
	var u1, port, u2, proto, pdot, zone, zdot, region, rdot string
	if nm.Kind == SRV {
		u1, port, u2, proto, pdot = "_", nm.Port, "._", nm.Proto, "."
	}
	if nm.Level == Zone {
		zone, zdot = nm.Zone, "."
	}
	if nm.Level >= Region {
		region, rdot = nm.Region, "."
	}
	return u1 + port + u2 + proto + pdot + nm.Service + "." + nm.Namespace + "." + fed + ".svc." + zone + zdot + region + rdot + origin
}

// Up is the name one level above nm, the target of its fall-back CNAME:
// a zone name's region name, a region name's global name.
func (nm Name) Up() Name {
	switch nm.Level {
	case Zone:
		nm.Level, nm.Zone = Region, ""
	case Region:
		nm.Level, nm.Region = Global, ""
	}
	return nm
}

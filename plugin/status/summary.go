package status

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
)

// Overview is what the status page shows: the plugin gathers it for each
// request (Backend.Overview).
type Overview struct {
	Federation string
	Zones      []string
	Role       string
	// Snapshot is the current snapshot, nil before the first.
	Snapshot *model.Snapshot
	// Transitions are the latest transitions, newest first, of Total ever.
	Transitions []health.Transition
	Total       uint64
	GeoIP       geo.Info
	// Errors are the latest source error of each cluster that had one.
	Errors map[string]SourceError
	Now    time.Time
}

// SourceError is the latest error a source reported for a cluster.
type SourceError struct {
	At    time.Time
	Error string
	Count int // errors reported for the cluster so far
}

// State is how a service or host stands (model.State), as the page
// shows it.
type State = model.State

// The states, worst first: the order the page lists them in.
const (
	FailingOpen = model.FailingOpen
	Degraded    = model.Degraded
	NoAddress   = model.NoAddress
	Healthy     = model.Healthy
)

// label is the state as the page shows it, and class its CSS class.
func label(s State) string { return strings.ReplaceAll(s.String(), "_", " ") }
func class(s State) string { return strings.ReplaceAll(s.String(), "_", "-") }

// Entry is one service or host of the snapshot, summarized.
type Entry struct {
	Svc    *model.Service
	State  State
	Usable int // usable shards
	Addr   int // shards with an address
	// Down are the clusters of shards with an address that are not usable.
	Down []string
}

// Name is how the page names the entry: namespace/name, or the host.
func (e *Entry) Name() string {
	if e.Svc.Host != "" {
		return strings.TrimSuffix(e.Svc.Host, ".")
	}
	return e.Svc.Namespace + "/" + e.Svc.Name
}

// Kind is "service" or "host".
func (e *Entry) Kind() string {
	if e.Svc.Host != "" {
		return "host"
	}
	return "service"
}

// summarize makes the entry of svc.
func summarize(svc *model.Service) Entry {
	e := Entry{Svc: svc}
	e.State, e.Usable, e.Addr = svc.State()
	for _, sh := range svc.Shards {
		if sh.HasAddress() && !sh.Usable {
			e.Down = append(e.Down, sh.Cluster.Name)
		}
	}
	return e
}

// Index is every service and host of one snapshot, summarized and sorted
// worst first, then by kind and name: made once per snapshot, so that
// paging through 100,000 services sorts them once.
type Index struct {
	Entries []Entry
	// Count is how many entries are in each state.
	Count [Healthy + 1]int
	// Clusters are the per-cluster shard counts, in snapshot order.
	Clusters []ClusterCount
	Shards   int // shards in all
	Usable   int // usable shards
}

// ClusterCount counts one cluster's shards.
type ClusterCount struct {
	Services, Hosts int // shards of services and hosts
	Usable          int // usable shards
}

// NewIndex summarizes snap.
func NewIndex(snap *model.Snapshot) *Index {
	ix := &Index{Entries: make([]Entry, 0, len(snap.Services)+len(snap.Hosts)+len(snap.Wildcards)),
		Clusters: make([]ClusterCount, len(snap.Clusters))}
	at := make(map[*model.Cluster]int, len(snap.Clusters))
	for i, c := range snap.Clusters {
		at[c] = i
	}
	add := func(svc *model.Service) {
		e := summarize(svc)
		ix.Count[e.State]++
		ix.Entries = append(ix.Entries, e)
		for _, sh := range svc.Shards {
			i, ok := at[sh.Cluster]
			if !ok {
				continue
			}
			cc := &ix.Clusters[i]
			if svc.Host != "" {
				cc.Hosts++
			} else {
				cc.Services++
			}
			ix.Shards++
			if sh.Usable {
				cc.Usable++
				ix.Usable++
			}
		}
	}
	for _, svc := range snap.Services {
		add(svc)
	}
	for _, h := range snap.Hosts {
		add(h)
	}
	for _, h := range snap.Wildcards {
		add(h)
	}
	slices.SortFunc(ix.Entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.State, b.State), cmp.Compare(a.Kind(), b.Kind()), cmp.Compare(a.Name(), b.Name()))
	})
	return ix
}

// Filter returns the entries whose name holds sub (case-insensitive; ""
// matches all), of state only (nil: any).
func (ix *Index) Filter(sub string, only func(State) bool) []Entry {
	sub = strings.ToLower(sub)
	if sub == "" && only == nil {
		return ix.Entries
	}
	var out []Entry
	for i := range ix.Entries {
		e := &ix.Entries[i]
		if (only == nil || only(e.State)) && (sub == "" || strings.Contains(e.Name(), sub)) {
			out = append(out, *e)
		}
	}
	return out
}

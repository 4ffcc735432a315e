package health

import (
	"sync"
	"time"
)

// Transition is one change of a health signal or of a cluster's state, as
// the status page lists it.
type Transition struct {
	At time.Time
	// Signal is what changed: "passive", "probe" or "cluster".
	Signal string
	// What names it: the shard ("cluster/namespace/name"), the probe
	// target ("cluster/namespace/name address") or the cluster.
	What string
	// From and To are the states before and after ("up", "down", "stale",
	// "pending" for a probe target's first result).
	From, To string
	// Detail says why, for a person ("after 3 failures (last: ...)").
	Detail string
}

// History keeps the latest transitions, at most its size: a ring, so
// that a flapping federation costs a bounded amount of memory. It is safe
// for concurrent use; a nil *History records nothing.
type History struct {
	mu    sync.Mutex
	ring  []Transition
	next  int    // where the next one goes
	total uint64 // transitions ever added
}

// DefaultHistory is the size of a history when NewHistory is given 0.
const DefaultHistory = 200

// NewHistory returns an empty history that keeps the latest n
// transitions; n <= 0 means DefaultHistory.
func NewHistory(n int) *History {
	if n <= 0 {
		n = DefaultHistory
	}
	return &History{ring: make([]Transition, 0, n)}
}

// Add records t.
func (h *History) Add(t Transition) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total++
	if len(h.ring) < cap(h.ring) {
		h.ring = append(h.ring, t)
		return
	}
	h.ring[h.next] = t
	h.next = (h.next + 1) % len(h.ring)
}

// Recent returns the transitions kept, newest first, and how many were
// ever added (more than returned once the oldest were dropped).
func (h *History) Recent() (ts []Transition, total uint64) {
	if h == nil {
		return nil, 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ts = make([]Transition, 0, len(h.ring))
	for i := range h.ring {
		// h.next-1 is the newest once the ring is full; len-1 before.
		j := (h.next - 1 - i + 2*len(h.ring)) % len(h.ring)
		if len(h.ring) < cap(h.ring) {
			j = len(h.ring) - 1 - i
		}
		ts = append(ts, h.ring[j])
	}
	return ts, h.total
}

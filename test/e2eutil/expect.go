package e2eutil

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Expect is the answers one query may get over time: a list of changes,
// each the set of answers allowed from its time on, which a soak's events
// append as they happen. A reply is right when its answer is allowed at
// some moment between its query's sending and its arrival. An event whose
// effect takes a while to show is two changes: the old and the new answer
// both allowed from the event on, then only the new one once the allowed
// delay has passed. Safe for concurrent use.
type Expect struct {
	mu      sync.Mutex
	changes []*Change
}

// Change is one entry of an Expect, with what the replies to the queries
// sent while it was in force got.
type Change struct {
	At      time.Time
	Allowed []string
	Note    string               // what caused it, for the report
	Counts  map[string]int64     // answers of the queries sent while in force
	LastAt  map[string]time.Time // the last such query's sending time, by answer
	Wrong   int64                // answers not allowed
	example string               // the first answer not allowed
}

// NewExpect returns an Expect that allows the answers from now on.
func NewExpect(allowed ...string) *Expect {
	e := &Expect{}
	e.Set("start", allowed...)
	return e
}

// Set allows only the answers from now on; note says why.
func (e *Expect) Set(note string, allowed ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.changes = append(e.changes, &Change{At: time.Now(), Allowed: slices.Clone(allowed), Note: note,
		Counts: map[string]int64{}, LastAt: map[string]time.Time{}})
}

// Current is the answers allowed now.
func (e *Expect) Current() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.changes[len(e.changes)-1].Allowed)
}

// Check reports whether got is allowed at some moment between sent and
// recv, and counts it under the change in force when it was sent.
func (e *Expect) Check(sent, recv time.Time, got string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	// The last change at or before sent (the first one if sent is earlier).
	i := max(0, sort.Search(len(e.changes), func(i int) bool { return e.changes[i].At.After(sent) })-1)
	ok := false
	for j := i; j < len(e.changes) && (j == i || !e.changes[j].At.After(recv)); j++ {
		if slices.Contains(e.changes[j].Allowed, got) {
			ok = true
			break
		}
	}
	c := e.changes[i]
	c.Counts[got]++
	if sent.After(c.LastAt[got]) {
		c.LastAt[got] = sent
	}
	if !ok {
		if c.Wrong == 0 {
			c.example = fmt.Sprintf("%q sent %s after the change, received %s after, allowed %q",
				got, sent.Sub(c.At).Round(time.Microsecond), recv.Sub(c.At).Round(time.Microsecond), c.Allowed)
		}
		c.Wrong++
	}
	return ok
}

// Changes returns a copy of the changes so far, with their counts.
func (e *Expect) Changes() []Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Change, len(e.changes))
	for i, c := range e.changes {
		out[i] = *c
		out[i].Counts = maps(c.Counts)
		out[i].LastAt = maps(c.LastAt)
	}
	return out
}

// Example is the first wrong answer under the change, described, or "".
func (c Change) Example() string { return c.example }

func maps[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// AnswerKey reads a reply from the wire without unpacking it whole: the
// ID, whether its question is question (the query's question section, as
// sent), and a key for its answer: "RCODE:NAME" for an rcode other than
// NOERROR, else the A and AAAA addresses and the first string of each TXT
// record, sorted and joined by ",". ok is false for a reply that does not
// read.
func AnswerKey(reply, question []byte) (id uint16, sameQuestion bool, key string, ok bool) {
	if len(reply) < 12 {
		return 0, false, "", false
	}
	id = binary.BigEndian.Uint16(reply)
	if binary.BigEndian.Uint16(reply[4:]) != 1 {
		return id, false, "", false
	}
	off := 12 + len(question)
	if off > len(reply) {
		return id, false, "", false
	}
	sameQuestion = strings.EqualFold(string(reply[12:off]), string(question))
	if rc := reply[3] & 0x0f; rc != dns.RcodeSuccess {
		return id, sameQuestion, "RCODE:" + dns.RcodeToString[int(rc)], true
	}
	var items []string
	for range binary.BigEndian.Uint16(reply[6:]) {
		var ok bool
		if off, ok = skipName(reply, off); !ok || off+10 > len(reply) {
			return id, sameQuestion, "", false
		}
		typ, n := binary.BigEndian.Uint16(reply[off:]), int(binary.BigEndian.Uint16(reply[off+8:]))
		off += 10
		if off+n > len(reply) {
			return id, sameQuestion, "", false
		}
		rdata := reply[off : off+n]
		off += n
		switch {
		case typ == dns.TypeA && n == 4, typ == dns.TypeAAAA && n == 16:
			a, _ := netip.AddrFromSlice(rdata)
			items = append(items, a.String())
		case typ == dns.TypeTXT && n > 0 && int(rdata[0]) < n:
			items = append(items, string(rdata[1:1+int(rdata[0])]))
		}
	}
	slices.Sort(items)
	return id, sameQuestion, strings.Join(items, ","), true
}

// skipName returns the offset after the domain name at off.
func skipName(b []byte, off int) (int, bool) {
	for off < len(b) {
		switch l := int(b[off]); {
		case l == 0:
			return off + 1, true
		case l&0xc0 == 0xc0:
			return off + 2, off+2 <= len(b)
		case l&0xc0 != 0:
			return 0, false
		default:
			off += 1 + l
		}
	}
	return 0, false
}

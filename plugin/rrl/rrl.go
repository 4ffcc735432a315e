// Package rrl is response rate limiting for the authoritative role, as
// BIND, Knot and NSD offer it (the "DNS Response Rate Limiting" scheme of
// Vixie and Schryver): a flood of identical replies to one client network
// is cut to a rate, because a spoofed source address would otherwise turn
// the server into an amplifier aimed at that address.
//
// Replies are accounted per client network (the source address cut to
// Config.Prefix4 or Config.Prefix6 bits, never the EDNS client subnet:
// the reply goes to the source) and per kind of reply:
//
//	| Class    | identical when they share           | rate              |
//	|----------|-------------------------------------|-------------------|
//	| Response | the name and type asked (any data)  | Config.Responses  |
//	| NXDomain | the zone                            | Config.NXDomains  |
//	| Error    | nothing: every error is one reply   | Config.Errors     |
//
// Each account is a token bucket, as Knot's: it earns its class's rate
// per second, holds at most one second of it (so a burst of rate replies
// passes), and pays one for each reply sent. A reply that finds it empty
// is limited, so a flood gets the rate and no more. (BIND lets the
// account run into debt for a window of seconds instead, and a client
// that keeps flooding then gets nothing; see docs/rrl.md for why this
// package does not.) Of the limited replies, every Config.Slip-th is sent
// truncated (TC set, no records), so that a real resolver behind the
// address retries over TCP, which cannot be spoofed; the rest are
// dropped. Replies over TCP are never limited, and neither are clients
// in Config.Exempt.
//
// Package rrl does no I/O: Limiter.Check is a pure function of its
// accounts and the time it is given.
package rrl

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Class is the kind of a reply, for accounting.
type Class uint8

// The classes of replies, each with its own rate.
const (
	Response Class = iota // NOERROR, with records or not (NODATA)
	NXDomain              // NXDOMAIN
	Error                 // any other rcode: SERVFAIL, FORMERR, REFUSED, NOTIMP
	numClasses
)

// String returns the class's metric label.
func (c Class) String() string {
	switch c {
	case Response:
		return "response"
	case NXDomain:
		return "nxdomain"
	case Error:
		return "error"
	}
	return "unknown"
}

// Classes are every class, for metrics that report each.
var Classes = []Class{Response, NXDomain, Error}

// Action is what becomes of a reply.
type Action uint8

// The actions Check returns.
const (
	Send Action = iota // within the rate, or exempt: send it
	Drop               // limited: send nothing
	Slip               // limited: send it truncated, with no records
)

// String returns the action's metric label.
func (a Action) String() string {
	switch a {
	case Send:
		return "sent"
	case Drop:
		return "dropped"
	case Slip:
		return "slipped"
	}
	return "unknown"
}

// Config is a limiter's settings. The zero value is not valid: see
// Defaults.
type Config struct {
	// Responses, NXDomains and Errors are the replies of each class a
	// client network may get per second; 0 leaves the class unlimited.
	Responses, NXDomains, Errors int
	// Slip sends every Slip-th limited reply truncated instead of
	// dropping it; 0 drops them all, 1 sends them all truncated.
	Slip int
	// Prefix4 and Prefix6 are the lengths a client's address is cut to.
	Prefix4, Prefix6 int
	// Exempt are client networks never limited.
	Exempt []netip.Prefix
	// Table bounds the accounts kept; the least recently used goes first.
	Table int
	// LogOnly counts what would be limited but sends every reply, for
	// choosing the rates on a live server (Enforce).
	LogOnly bool
}

// Defaults are BIND's defaults for the settings it has, with the rate
// set to responses (BIND has none: its rate limiting is off until one is
// given); nxdomains and errors follow it, as in BIND.
func Defaults(responses int) Config {
	return Config{
		Responses: responses, NXDomains: responses, Errors: responses,
		Slip: 2, Prefix4: 24, Prefix6: 56, Table: 100_000,
	}
}

// ErrConfig is a setting out of its range.
var ErrConfig = errors.New("rrl: invalid setting")

// The bounds of the settings.
const (
	maxRate  = 1_000_000
	maxSlip  = 10
	maxTable = 1 << 24
)

// Validate checks that every setting is in its range.
func (c Config) Validate() error {
	for _, r := range []int{c.Responses, c.NXDomains, c.Errors} {
		if r < 0 || r > maxRate {
			return fmt.Errorf("%w: a rate of %d (0 to %d)", ErrConfig, r, maxRate)
		}
	}
	switch {
	case c.Slip < 0 || c.Slip > maxSlip:
		return fmt.Errorf("%w: slip %d (0 to %d)", ErrConfig, c.Slip, maxSlip)
	case c.Prefix4 < 0 || c.Prefix4 > 32 || c.Prefix6 < 0 || c.Prefix6 > 128:
		return fmt.Errorf("%w: prefix lengths %d and %d (up to 32 and 128)", ErrConfig, c.Prefix4, c.Prefix6)
	case c.Table < 1 || c.Table > maxTable:
		return fmt.Errorf("%w: table %d (1 to %d)", ErrConfig, c.Table, maxTable)
	}
	return nil
}

// shards spreads the accounts over locks, so that the fast path's
// sockets, one per core, rarely wait for each other.
const shards = 16

// Limiter holds the accounts. It is safe for concurrent use.
type Limiter struct {
	cfg    Config
	rate   [numClasses]int64 // credit per nanosecond, in units of 1/1e9 reply
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[key, *account]
}

// key names an account. The hash of the name (or zone) stands for it: a
// collision merges two accounts of one client network, which can only
// limit sooner, and the 64-bit hash is seeded per process, so a client
// cannot aim for one.
type key struct {
	net   netip.Prefix
	class Class
	qtype uint16
	name  uint64
}

// account is one token bucket.
type account struct {
	balance int64  // in 1/1e9 of a reply, from 0 to one second's rate
	last    int64  // unix nanoseconds of the last reply
	limited uint32 // limited replies, for the slip
}

// unit is one reply in an account's balance.
const unit = int64(time.Second)

// New returns a limiter for cfg, which must be valid.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg, seed: maphash.MakeSeed()}
	l.rate[Response] = int64(cfg.Responses)
	l.rate[NXDomain] = int64(cfg.NXDomains)
	l.rate[Error] = int64(cfg.Errors)
	per := max(cfg.Table/shards, 1)
	for i := range l.shards {
		lru, err := simplelru.NewLRU[key, *account](per, nil)
		if err != nil {
			return nil, err
		}
		l.shards[i].lru = lru
	}
	return l, nil
}

// Config returns the limiter's settings.
func (l *Limiter) Config() Config { return l.cfg }

// Check accounts for one reply of class to client (the packet's source
// address) at now, for the question's name and type (Response) or the
// zone (NXDomain; name is then the zone, and qtype is ignored), and says
// what to do with it, LogOnly or not (see Enforce). Names are compared as
// given: the caller passes them in one case.
func (l *Limiter) Check(now time.Time, client netip.Addr, class Class, name string, qtype uint16) Action {
	rate := l.rate[class]
	if rate == 0 || l.exempt(client) {
		return Send
	}
	k := key{net: l.network(client), class: class}
	switch class {
	case Response:
		k.qtype = qtype
		k.name = maphash.String(l.seed, name)
	case NXDomain:
		k.name = maphash.String(l.seed, name)
	}
	s := &l.shards[l.shardOf(k)]
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.lru.Get(k)
	t := now.UnixNano()
	if !ok {
		a = &account{balance: rate * unit, last: t}
		s.lru.Add(k, a)
	}
	a.earn(t, rate)
	if a.balance >= unit {
		a.balance -= unit
		return Send
	}
	a.limited++
	if l.cfg.Slip > 0 && a.limited%uint32(l.cfg.Slip) == 0 {
		return Slip
	}
	return Drop
}

// Enforce returns what to do with a reply Check said a for: a itself,
// or Send when the limiter is LogOnly (the caller has counted a).
func (l *Limiter) Enforce(a Action) Action {
	if l.cfg.LogOnly {
		return Send
	}
	return a
}

// earn credits the account for the time since its last reply, up to one
// second of its rate.
func (a *account) earn(t, rate int64) {
	elapsed := t - a.last
	if elapsed <= 0 {
		return
	}
	a.last = t
	top := rate * unit
	if a.balance >= top {
		return
	}
	// elapsed*rate could overflow: compare before multiplying.
	if elapsed >= (top-a.balance)/rate+1 {
		a.balance = top
		return
	}
	a.balance = min(a.balance+elapsed*rate, top)
}

// network cuts client to its network's length; an IPv4-mapped address
// counts as IPv4.
func (l *Limiter) network(client netip.Addr) netip.Prefix {
	client = client.Unmap()
	bits := l.cfg.Prefix6
	if client.Is4() {
		bits = l.cfg.Prefix4
	}
	p, _ := client.Prefix(bits)
	return p
}

func (l *Limiter) exempt(client netip.Addr) bool {
	client = client.Unmap()
	for _, p := range l.cfg.Exempt {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

func (l *Limiter) shardOf(k key) uint64 {
	return maphash.Comparable(l.seed, k) % shards
}

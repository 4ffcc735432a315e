// Package upstream sends queries of the federated zone to the authoritative
// Meridian servers, one at a time with failover, and caches the replies
// that do not depend on the client's subnet. It is the client half of the
// resolver role: a Meridian instance beside a member cluster's CoreDNS
// forwards names it does not answer itself, and resolves the CNAME targets
// it hands out, through an Upstream. It imports neither CoreDNS nor
// anything else under plugin/.
//
// How it fails over, matches replies, times out, reports failures (RFC 8914
// Extended DNS Errors) and caches is told in docs/upstream.md.
package upstream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Upstream exchanges queries with the authoritative servers, with failover
// and an optional cache. It is safe for concurrent use and starts no
// goroutines, so there is nothing to stop.
type Upstream struct {
	cfg     settings
	m       *metrics
	servers []serverMetrics // parallel to cfg.servers
	cache   *cache          // nil: no cache

	mu    sync.Mutex
	start int       // index of the server queries start at
	since time.Time // when start last moved away from 0, or was confirmed there
}

// New checks cfg and returns an Upstream for it. Errors wrap ErrConfig or
// ErrMetrics.
func New(cfg Config) (*Upstream, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(s.Registerer)
	if err != nil {
		return nil, err
	}
	u := &Upstream{cfg: s, m: m}
	for _, addr := range s.servers {
		u.servers = append(u.servers, m.forServer(addr))
	}
	if s.CacheSize > 0 {
		if u.cache, err = newCache(s.CacheSize, s.MaxTTL, m.entries); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return u, nil
}

// Exchange returns the reply to req: from the cache when a fresh entry
// answers it, else from the first server that gives a final reply (see
// docs/upstream.md). The reply has req's ID and belongs to the caller; req
// is not modified. When every server that answered said SERVFAIL or REFUSED,
// the last such reply is returned with a nil error. When no server gave a
// usable reply the error is an *Error wrapping ErrUnreachable, which
// ServFail turns into a reply. A req that is not a query with one question
// gets an error wrapping ErrRequest.
func (u *Upstream) Exchange(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	if req == nil || req.Response || len(req.Question) != 1 {
		return nil, fmt.Errorf("%w: want a query with one question", ErrRequest)
	}
	var k cacheKey
	cached := u.cache != nil && cacheable(req)
	if cached {
		k = keyOf(req)
		if r := u.cache.get(k, req, u.cfg.Clock.Now()); r != nil {
			u.m.hits.Inc()
			return r, nil
		}
		u.m.misses.Inc()
	}
	r, err := u.forward(ctx, req)
	if err != nil {
		return nil, err
	}
	if cached {
		u.cache.put(k, req, r, u.cfg.Clock.Now())
	}
	return r, nil
}

// forward tries the servers in turn, from the starting one, within Total.
// Forget drops the cached reply to req, if any, so that the next Exchange
// of the same question asks a server. The resolver calls it for a reply it
// knows to be out of date: one that still names a shard it has seen fail.
func (u *Upstream) Forget(req *dns.Msg) {
	if u.cache != nil && req != nil && len(req.Question) == 1 && cacheable(req) {
		u.cache.remove(keyOf(req))
	}
}

func (u *Upstream) forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	wire, err := req.Pack()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Total)
	defer cancel()
	first := u.first()
	var (
		failed   []Attempt
		fallback *dns.Msg // the last SERVFAIL or REFUSED reply
	)
	for i := range u.cfg.servers {
		idx := (first + i) % len(u.cfg.servers)
		addr := u.cfg.servers[idx]
		if err := spent(ctx); err != nil {
			failed = append(failed, Attempt{Server: addr, Err: fmt.Errorf("not tried: %w", err)})
			continue
		}
		r, err := u.try(ctx, idx, wire, req)
		switch {
		case err != nil:
			failed = append(failed, Attempt{Server: addr, Err: err})
		case r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused:
			fallback = r
		default:
			u.answered(first, idx)
			r.Id = req.Id
			return r, nil
		}
	}
	if fallback != nil {
		fallback.Id = req.Id
		return fallback, nil
	}
	return nil, &Error{Attempts: failed}
}

// spent returns why ctx leaves no time for an attempt, or nil. The
// deadline is checked too: its timer may fire after a socket deadline set
// from it.
func spent(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// try makes one attempt at server idx, and a TCP one after a truncated UDP
// reply, and counts it.
func (u *Upstream) try(ctx context.Context, idx int, wire []byte, req *dns.Msg) (*dns.Msg, error) {
	addr, sm := u.cfg.servers[idx], u.servers[idx]
	begin := time.Now()
	r, err := u.attempt(ctx, u.cfg.Net, addr, wire, req)
	if err == nil && r.Truncated && u.cfg.Net == "udp" {
		if r, err = u.attempt(ctx, "tcp", addr, wire, req); err != nil {
			err = fmt.Errorf("tcp retry after a truncated reply: %w", err)
		}
	}
	sm.duration.Observe(time.Since(begin).Seconds())
	result := resultSuccess
	switch {
	case err != nil:
		result = failResult(err)
	case r.Rcode == dns.RcodeServerFailure:
		result = resultServfail
	case r.Rcode == dns.RcodeRefused:
		result = resultRefused
	}
	sm.results[result].Inc()
	return r, err
}

// first returns the index of the server to start at: the one that gave
// the last final reply, or 0 once Failback has passed since it took over.
func (u *Upstream) first() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.start != 0 && u.cfg.Clock.Now().Sub(u.since) >= u.cfg.Failback {
		return 0
	}
	return u.start
}

// answered records that server idx gave a final reply to a query that
// started at server first.
func (u *Upstream) answered(first, idx int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case idx == u.start && idx == first:
		return
	case idx == u.start:
		// Back at Servers[0] after Failback, which failed again: keep
		// starting here for another Failback.
		u.since = u.cfg.Clock.Now()
	case idx == 0:
		u.start = 0
		u.cfg.Logger.Infof("upstream: %s answers again; queries start there", u.cfg.servers[0])
	default:
		u.start, u.since = idx, u.cfg.Clock.Now()
		u.cfg.Logger.Warningf("upstream: %s failed; queries start at %s for %v",
			u.cfg.servers[first], u.cfg.servers[idx], u.cfg.Failback)
	}
}

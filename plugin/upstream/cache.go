package upstream

import (
	"math"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// cacheKey names the replies that may answer a request: see "Cache" in
// docs/upstream.md.
type cacheKey struct {
	name   string // lower-cased
	qtype  uint16
	qclass uint16
	do, cd bool
}

// entry is one cached reply. It is never modified once stored.
type entry struct {
	msg     *dns.Msg  // TTLs capped, ECS and COOKIE options removed
	stored  time.Time // when msg arrived
	expires time.Time // stored + the smallest TTL of msg
}

// cache is a bounded LRU of replies valid for every client.
type cache struct {
	lru     *lru.Cache[cacheKey, *entry]
	maxTTL  uint32 // seconds
	entries prometheus.Gauge
}

func newCache(size int, maxTTL time.Duration, entries prometheus.Gauge) (*cache, error) {
	l, err := lru.New[cacheKey, *entry](size)
	if err != nil {
		return nil, err
	}
	return &cache{lru: l, maxTTL: uint32(min(maxTTL/time.Second, math.MaxUint32)), entries: entries}, nil
}

// cacheable reports whether req may be answered from, and fill, the cache:
// a standard query for anything but a zone transfer.
func cacheable(req *dns.Msg) bool {
	t := req.Question[0].Qtype
	return req.Opcode == dns.OpcodeQuery && t != dns.TypeAXFR && t != dns.TypeIXFR
}

func keyOf(req *dns.Msg) cacheKey {
	q := req.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: req.CheckingDisabled}
	if opt := req.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k
}

// get returns a copy of the fresh entry under k made into a reply to req,
// or nil. An expired entry is removed.
func (c *cache) get(k cacheKey, req *dns.Msg, now time.Time) *dns.Msg {
	e, ok := c.lru.Get(k)
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		c.lru.Remove(k)
		c.entries.Set(float64(c.lru.Len()))
		return nil
	}
	r := e.msg.Copy()
	r.Id, r.RecursionDesired = req.Id, req.RecursionDesired
	r.Question[0] = req.Question[0]
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, s := range [][]dns.RR{r.Answer, r.Ns, r.Extra} {
		for _, rr := range s {
			h := rr.Header()
			h.Ttl -= min(h.Ttl, age)
		}
	}
	fitOPT(r, req)
	return r
}

// fitOPT makes r's OPT record fit req: none when req has none (RFC 6891
// section 7), and req's client subnet echoed with scope 0 when it has one
// (RFC 7871 section 7.3.2).
func fitOPT(r, req *dns.Msg) {
	qopt, ropt := req.IsEdns0(), r.IsEdns0()
	if ropt == nil {
		return
	}
	if qopt == nil {
		r.Extra = removeOPT(r.Extra)
		return
	}
	if e := subnet(qopt); e != nil {
		ropt.Option = append(ropt.Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: e.Family, SourceNetmask: e.SourceNetmask, Address: slices.Clone(e.Address),
		})
	}
}

// put stores a copy of r, the reply to req, under k if it may be shared.
func (c *cache) put(k cacheKey, req, r *dns.Msg, now time.Time) {
	if !storable(req, r) {
		return
	}
	s := r.Copy()
	ttl := c.prepare(s)
	if ttl == 0 {
		return
	}
	c.lru.Add(k, &entry{msg: s, stored: now, expires: now.Add(time.Duration(ttl) * time.Second)})
	c.entries.Set(float64(c.lru.Len()))
}

// remove drops the entry under k, if any.
func (c *cache) remove(k cacheKey) {
	if c.lru.Remove(k) {
		c.entries.Set(float64(c.lru.Len()))
	}
}

// storable reports whether r, the reply to req, may be cached at all: see
// "Cache" in docs/upstream.md. The TTL is prepare's business.
func storable(req, r *dns.Msg) bool {
	if r.Truncated || !sameQuestion(r, req) {
		return false
	}
	if e := subnet(r.IsEdns0()); e != nil && e.SourceScope != 0 {
		return false
	}
	switch {
	case r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0:
		return true
	case r.Rcode == dns.RcodeSuccess, r.Rcode == dns.RcodeNameError:
		return soa(r) != nil
	}
	return false
}

// prepare caps the TTLs of s, which storable accepted, lowers a negative
// answer's SOA TTL to its MINIMUM, drops the options that belong to one
// client, and returns the entry's TTL: the smallest of them all.
func (c *cache) prepare(s *dns.Msg) uint32 {
	if s.Rcode == dns.RcodeNameError || len(s.Answer) == 0 {
		h := soa(s)
		h.Hdr.Ttl = min(h.Hdr.Ttl, h.Minttl)
	}
	ttl := c.maxTTL
	for _, sec := range [][]dns.RR{s.Answer, s.Ns, s.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			h.Ttl = min(h.Ttl, c.maxTTL)
			ttl = min(ttl, h.Ttl)
		}
	}
	if opt := s.IsEdns0(); opt != nil {
		kept := opt.Option[:0]
		for _, o := range opt.Option {
			if code := o.Option(); code != dns.EDNS0SUBNET && code != dns.EDNS0COOKIE {
				kept = append(kept, o)
			}
		}
		opt.Option = kept
	}
	return ttl
}

// soa returns the SOA record of r's authority section, or nil.
func soa(r *dns.Msg) *dns.SOA {
	for _, rr := range r.Ns {
		if s, ok := rr.(*dns.SOA); ok {
			return s
		}
	}
	return nil
}

// removeOPT returns extra without its OPT record; extra is not shared.
func removeOPT(extra []dns.RR) []dns.RR {
	kept := extra[:0]
	for _, rr := range extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			kept = append(kept, rr)
		}
	}
	return kept
}

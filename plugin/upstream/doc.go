// Package upstream sends queries of the federated zone to the authoritative
// Meridian servers and caches what they may share. It is the client half of
// the resolver role: a Meridian instance beside a member cluster's CoreDNS
// forwards names it does not answer itself, and resolves the CNAME targets
// it hands out, through an Upstream. It imports neither CoreDNS nor anything
// else under plugin/.
//
// # Failover
//
// Config.Servers are tried one at a time, never in parallel. A query starts
// at the server that gave the last final answer and goes round the list
// from there, so after Servers[0] dies only one query pays for finding out;
// the ones after it go straight to the server that answered:
//
//	servers  last answered  order tried
//	A B C    A              A B C
//	A B C    B              B C A
//	A B C    B, 30 s ago    A B C (Failback: try the configured order again)
//
// Failback (30 s by default) after the start moved away from Servers[0], the
// next query starts at Servers[0] again; if it still fails, that query moves
// on and the start stays where it was for another Failback. A dead first
// server therefore costs at most one failed attempt per Failback, not one
// per query. Each change of the starting server is logged once: a Warning
// when it moves on, an Info when it comes back to Servers[0].
//
// A server's attempt ends, and the next server is tried, when
//
//   - it cannot be reached: connection refused (over UDP, the ICMP port
//     unreachable of a closed port arrives in microseconds), host or
//     network unreachable, or no matching reply within Timeout;
//   - it answers with rcode SERVFAIL or REFUSED: another server of the same
//     zone may do better, and the last such reply is returned when no server
//     does better (it is not an error: the caller forwards it);
//   - over TCP, its reply is malformed or does not match the query.
//
// Every other rcode (NOERROR, NXDOMAIN, FORMERR, NOTIMP, ...) is final: it
// is the zone's answer, and the other servers serve the same zone. Only a
// final answer makes its server the start; one that said SERVFAIL does not.
//
// # Matching replies
//
// The query goes out as the caller built it, ECS option included, so the
// authority steers by the pod's subnet. Each attempt dials a new socket (a
// new random source port) and sends it under a fresh random message ID; the
// reply gets the caller's ID back. A reply counts only if it is a response
// with that ID, the same opcode and the same question (name compared
// case-insensitively; an error reply may carry no question), and, when the
// query carried a client subnet (ECS) option and the reply does too, the
// same FAMILY, SOURCE PREFIX-LENGTH and ADDRESS (RFC 7871 section 7.3).
// Over UDP a datagram that fails these checks, or cannot be parsed, is
// dropped and the attempt keeps waiting (RFC 5452), so a spoofed packet can
// neither be taken nor end the exchange; if no good reply follows, the
// attempt fails with an error wrapping ErrMismatch or ErrMalformed rather
// than a plain timeout. Over TCP the first reply decides.
//
// # Timeouts
//
// Timeout (2 s by default) bounds one attempt: dial, send, and wait. A UDP
// reply with the TC bit is asked again over TCP from the same server, in a
// new attempt with its own Timeout; if that fails the next server is tried.
// A lost datagram is not sent again to the same server: the next one is.
// Total (5 s by default, so two silent servers fit) bounds the whole
// Exchange, and so does ctx: every socket carries the earliest of the three
// deadlines, and a cancelled ctx unblocks it at once. Servers that Total
// left no time for are reported as not tried. Timeout and Total are socket
// deadlines on the system clock; Config.Clock is not used for them.
//
// # Errors and EDE
//
// When no server gives a usable reply, Exchange returns an *Error listing
// every server and why it failed; it wraps ErrUnreachable and each
// attempt's error. ServFail turns it into a SERVFAIL reply carrying an
// RFC 8914 Extended DNS Error: 22 (No Reachable Authority) when every
// server timed out, refused the connection or was unreachable, that is
// when nothing answered at all; 23 (Network Error) otherwise, for instance
// when a server answered with replies that did not match. EDE is an EDNS
// option, so a request without an OPT record gets a plain SERVFAIL.
//
// # Cache
//
// With Config.CacheSize > 0 replies are kept in an LRU cache of that many
// entries. The key is the question's name lower-cased, its type and class,
// and the request's DO and CD bits (a DNSSEC-aware reply is not served to a
// query that did not ask for one, and the other way round). Only standard
// queries (opcode QUERY, not AXFR or IXFR) are looked up or stored; the
// request's ECS option is not in the key, since no entry depends on it.
//
// A reply is stored only when
//
//   - it does not depend on the client's subnet: it has no ECS option, or
//     one with SCOPE PREFIX-LENGTH 0, which RFC 7871 section 7.3.1 defines
//     as valid for every client. Meridian's authoritative servers answer by
//     the client's location; an answer scoped to one client's network
//     served to a pod elsewhere would steer it to the wrong cluster, so
//     such answers are never cached, whatever their TTL;
//   - its rcode is NOERROR or NXDOMAIN, it is not truncated, and its
//     question matches the request's;
//   - it is positive (NOERROR with answers) or a negative answer (NXDOMAIN
//     or NODATA) with an SOA record in the authority section; RFC 2308
//     negative answers without one are not cached;
//   - its TTL is above zero.
//
// The TTL of an entry is the smallest TTL of the reply's records in every
// section (the OPT pseudo-record aside), each first capped at MaxTTL, and,
// for a negative answer, with the SOA's TTL first lowered to its MINIMUM
// field (RFC 2308 section 5). Taking every section, not only the answers,
// means no record is ever handed out past its own TTL. There is no MinTTL:
// raising a TTL would keep a client on a cluster after the authority has
// moved it, which is exactly what the short TTLs of a steered zone are for.
//
// A hit returns a copy with the request's ID, question and RD bit, each
// TTL decreased by the whole seconds the entry has spent in the cache. An
// expired entry is a miss. A request carrying an ECS option may be
// answered from the cache, since every entry is valid for all clients;
// when the stored reply has an OPT record, the hit echoes the request's
// FAMILY, SOURCE PREFIX-LENGTH and ADDRESS with SCOPE PREFIX-LENGTH 0 (RFC
// 7871 section 7.3.2), never the subnet of the client whose query filled
// the entry: stored replies lose their ECS (and COOKIE) options. A request
// without an OPT record gets the reply without one (RFC 6891 section 7).
// Replies, cached or not, are not cut to the client's UDP size; the caller
// does that as it would for any reply (CoreDNS: request.Request.Scrub).
//
// # Metrics
//
// Under namespace meridian, subsystem upstream (the caller adds its own
// prefix by wrapping the Registerer): requests_total{server,result} counts
// attempts by configured server and result (success, timeout, error,
// servfail, refused), duration_seconds{server} times them (a TCP retry
// after truncation is part of its attempt), cache_hits_total and
// cache_misses_total count cache lookups, and cache_entries is the number
// of entries. Labels are bounded by the configuration: never a query name
// or a client address. Nothing is logged per query.
package upstream

import "errors"

// Errors of New and Exchange wrap one of these.
var (
	// ErrConfig is returned (wrapped) by New for an invalid Config.
	ErrConfig = errors.New("upstream: invalid config")
	// ErrMetrics is returned (wrapped) by New when a metric cannot be
	// registered for a reason other than being registered already.
	ErrMetrics = errors.New("upstream: cannot register metrics")
	// ErrRequest is returned (wrapped) by Exchange for a request that is
	// not a query with exactly one question, or cannot be packed.
	ErrRequest = errors.New("upstream: invalid request")
	// ErrUnreachable is wrapped by the *Error of an Exchange in which no
	// server gave a usable reply.
	ErrUnreachable = errors.New("upstream: no server answered")
	// ErrMismatch is a reply whose ID, question, opcode or client subnet
	// does not match the query's, or that is not a response.
	ErrMismatch = errors.New("reply does not match the query")
	// ErrMalformed is a reply that cannot be parsed.
	ErrMalformed = errors.New("malformed reply")
)

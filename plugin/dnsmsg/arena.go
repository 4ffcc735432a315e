package dnsmsg

import (
	"net/netip"

	"github.com/miekg/dns"
)

// Arena is room for one reply's records: a reply that fits in it costs no
// allocation beyond the Arena itself.
type Arena struct {
	msg    dns.Msg
	answer [4]dns.RR
	extra  [2]dns.RR
	a      [2]dns.A
	aaaa   [2]dns.AAAA
	na     int
	naaaa  int
	OPTRoom
}

// OPTRoom is room for a reply's OPT record and its client-subnet option.
type OPTRoom struct {
	opt  dns.OPT
	ecs  dns.EDNS0_SUBNET
	opts [1]dns.EDNS0
}

// NewA returns an A record from the arena, or a new one when it is full.
func (ar *Arena) NewA() *dns.A {
	if ar.na < len(ar.a) {
		ar.na++
		return &ar.a[ar.na-1]
	}
	return new(dns.A)
}

// NewAAAA returns an AAAA record from the arena, or a new one when it is
// full.
func (ar *Arena) NewAAAA() *dns.AAAA {
	if ar.naaaa < len(ar.aaaa) {
		ar.naaaa++
		return &ar.aaaa[ar.naaaa-1]
	}
	return new(dns.AAAA)
}

// Reply starts an authoritative reply to r in the arena: SetReply's
// header, sharing the question, without allocating.
func (ar *Arena) Reply(r *dns.Msg) *dns.Msg {
	resp := &ar.msg
	resp.Id, resp.Response, resp.Opcode = r.Id, true, r.Opcode
	resp.RecursionDesired, resp.CheckingDisabled = r.RecursionDesired, r.CheckingDisabled
	resp.Authoritative = true
	resp.Question = r.Question[:1:1]
	resp.Answer, resp.Extra = ar.answer[:0], ar.extra[:0]
	return resp
}

// Query is a query the plugin's handler has checked, as it reaches a role:
// one question of class IN in Zone, with a well-formed OPT record and
// client-subnet option if any.
type Query struct {
	Req  *dns.Msg
	Zone string            // the zone it is in, lower case
	OPT  *dns.OPT          // nil without EDNS
	ECS  *dns.EDNS0_SUBNET // nil without a client-subnet option
	// Client is the client's network: the ECS source prefix, or the
	// query's source address without ECS.
	Client netip.Prefix
}

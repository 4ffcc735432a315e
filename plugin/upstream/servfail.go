package upstream

import (
	"errors"

	"github.com/miekg/dns"
)

// EXTRA-TEXT of the Extended DNS Errors ServFail adds. They name no server:
// the reply goes to clients, the details go to the caller's log.
const (
	textNoReachable = "no upstream server reachable"
	textNetwork     = "upstream network error"
)

// ServFail returns a SERVFAIL reply to req for err, as Exchange returned
// it. When req has an OPT record the reply has one too, echoing req's UDP
// payload size (at least 512) and DO bit, with an RFC 8914 Extended DNS
// Error: 22 (No Reachable Authority) when err is an *Error in which every
// server timed out, refused the connection or was unreachable, 23
// (Network Error) for any other err. Without an OPT record in req there is
// no EDNS to carry EDE, and the reply is a plain SERVFAIL.
func ServFail(req *dns.Msg, err error) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	qopt := req.IsEdns0()
	if qopt == nil {
		return m
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(max(qopt.UDPSize(), dns.MinMsgSize))
	opt.SetDo(qopt.Do())
	opt.Option = append(opt.Option, ede(err))
	m.Extra = append(m.Extra, opt)
	return m
}

// ede is the Extended DNS Error for err.
func ede(err error) *dns.EDNS0_EDE {
	var e *Error
	if errors.As(err, &e) && e.noReachableAuthority() {
		return &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority, ExtraText: textNoReachable}
	}
	return &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNetworkError, ExtraText: textNetwork}
}

package dnsmsg

import (
	"errors"
	"strings"

	"github.com/miekg/dns"
)

// OPT errors; each makes the reply FORMERR, as RFC 6891 section 6.1.1 asks.
var (
	// errOPTCount is a query with more than one OPT record.
	errOPTCount = errors.New("more than one OPT record")
	// errOPTOwner is an OPT record whose owner is not the root.
	errOPTOwner = errors.New("OPT record not owned by the root")
	// errOPTSection is an OPT record in the answer or authority section.
	errOPTSection = errors.New("OPT record outside the additional section")
)

// CheckOPT reports whether r's OPT records are where RFC 6891 section
// 6.1.1 puts them: at most one, owned by the root, in the additional
// section. miekg/dns decodes an OPT record anywhere, and Msg.IsEdns0 sees
// only the last one of the additional section.
func CheckOPT(r *dns.Msg) error {
	if len(r.Answer)+len(r.Ns) == 0 && len(r.Extra) <= 1 { // the common query: no interface calls
		if len(r.Extra) == 1 {
			if o, ok := r.Extra[0].(*dns.OPT); ok && o.Hdr.Name != "." {
				return errOPTOwner
			}
		}
		return nil
	}
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return errOPTSection
			}
		}
	}
	n := 0
	for _, rr := range r.Extra {
		if h := rr.Header(); h.Rrtype == dns.TypeOPT {
			if n++; n > 1 {
				return errOPTCount
			}
			if h.Name != "." {
				return errOPTOwner
			}
		}
	}
	return nil
}

// AnyOPT returns the first OPT record of r in any section, or nil: a query
// whose OPT record is misplaced still told us it speaks EDNS.
func AnyOPT(r *dns.Msg) *dns.OPT {
	for _, sec := range [][]dns.RR{r.Extra, r.Answer, r.Ns} {
		for _, rr := range sec {
			if o, ok := rr.(*dns.OPT); ok {
				return o
			}
		}
	}
	return nil
}

// ErrorOPT is the OPT record of an error reply to a query with opt: our
// buffer size, the DO bit copied (RFC 3225 section 3), no options. RFC 6891
// section 7 asks for it on a FORMERR about the OPT record itself, so that
// the client can tell a format error from a server without EDNS.
func ErrorOPT(opt *dns.OPT) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: UDPSize}}
	if opt.Do() {
		o.SetDo()
	}
	return o
}

// Fit makes a reply fit in size bytes by dropping whole RRsets from the end
// of the additional section, never the OPT record (RFC 2181 section 9:
// additional data that does not fit is left out, without TC; TC means the
// answer itself is incomplete). CoreDNS's ScrubWriter would cut the same
// records but set TC, sending the client to TCP for nothing. An answer or
// authority section that does not fit is left to the ScrubWriter, which
// truncates it and sets TC.
func Fit(resp *dns.Msg, size int) {
	if resp.Len() <= size {
		return
	}
	resp.Compress = true // as the ScrubWriter measures, and packs, an oversized reply
	var opt dns.RR
	extra := resp.Extra[:0]
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = rr
			continue
		}
		extra = append(extra, rr)
	}
	for {
		resp.Extra = extra
		if opt != nil {
			resp.Extra = append(extra, opt)
		}
		if len(extra) == 0 || resp.Len() <= size {
			return
		}
		extra = extra[:lastRRset(extra)]
	}
}

// HasAdditional reports whether resp has an additional record other than
// OPT: only then can Fit have anything to do. Most replies have none, and
// measuring them would cost a Len per query.
func HasAdditional(resp *dns.Msg) bool {
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			return true
		}
	}
	return false
}

// lastRRset is the index where the RRset that ends rrs begins.
func lastRRset(rrs []dns.RR) int {
	last := rrs[len(rrs)-1].Header()
	i := len(rrs) - 1
	for i > 0 {
		h := rrs[i-1].Header()
		if h.Rrtype != last.Rrtype || h.Class != last.Class || !strings.EqualFold(h.Name, last.Name) {
			break
		}
		i--
	}
	return i
}

// Fail writes a reply to r with no records and rcode, with an OPT record
// when the query had one (RFC 6891 sections 6.1.1 and 7), even a misplaced
// one. A query with several questions gets none back.
func Fail(w dns.ResponseWriter, r *dns.Msg, rcode int) { FailWith(w, r, rcode, nil) }

// FailWith is Fail with an RFC 8914 Extended DNS Error in the reply's OPT
// record, when the query has one (without EDNS there is nowhere to put
// it). ede nil is Fail.
func FailWith(w dns.ResponseWriter, r *dns.Msg, rcode int, ede *dns.EDNS0_EDE) {
	resp := new(dns.Msg)
	resp.SetRcode(r, rcode)
	if len(r.Question) > 1 {
		resp.Question = nil
	}
	if opt := AnyOPT(r); opt != nil {
		o := ErrorOPT(opt)
		if ede != nil {
			o.Option = append(o.Option, ede)
		}
		resp.Extra = []dns.RR{o}
	}
	w.WriteMsg(resp)
}

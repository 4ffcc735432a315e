package upstream

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

func TestServFail(t *testing.T) {
	unreachable := &Error{Attempts: []Attempt{
		{Server: "127.0.0.1:1", Err: fmt.Errorf("read: %w", syscall.ECONNREFUSED)},
		{Server: "127.0.0.1:2", Err: context.DeadlineExceeded},
	}}
	mismatch := &Error{Attempts: []Attempt{
		{Server: "127.0.0.1:1", Err: fmt.Errorf("read: %w", syscall.ECONNREFUSED)},
		{Server: "127.0.0.1:2", Err: fmt.Errorf("%w: id 1, sent 2", ErrMismatch)},
	}}
	edns := func(size uint16, do bool) *dns.Msg {
		m := query("www.example.org.", dns.TypeA)
		m.SetEdns0(size, do)
		return m
	}
	tests := []struct {
		name string
		req  *dns.Msg
		err  error
		opt  bool   // the reply has an OPT record
		size uint16 // its UDP payload size
		do   bool
		code uint16 // its EDE code
	}{
		{"all unreachable: 22", edns(1232, true), unreachable, true, 1232, true, dns.ExtendedErrorCodeNoReachableAuthority},
		{"a bad reply: 23", edns(4096, false), mismatch, true, 4096, false, dns.ExtendedErrorCodeNetworkError},
		{"other error: 23", edns(1232, false), errors.New("boom"), true, 1232, false, dns.ExtendedErrorCodeNetworkError},
		{"nil error: 23", edns(1232, false), nil, true, 1232, false, dns.ExtendedErrorCodeNetworkError},
		{"no attempts: 23", edns(1232, false), &Error{}, true, 1232, false, dns.ExtendedErrorCodeNetworkError},
		{"tiny UDP size raised to 512", edns(100, false), unreachable, true, 512, false, dns.ExtendedErrorCodeNoReachableAuthority},
		{"no EDNS: plain SERVFAIL", query("www.example.org.", dns.TypeA), unreachable, false, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ServFail(tt.req, tt.err)
			if m.Rcode != dns.RcodeServerFailure || !m.Response || m.Id != tt.req.Id ||
				len(m.Question) != 1 || m.Question[0] != tt.req.Question[0] {
				t.Fatalf("reply %v, want a SERVFAIL response to the request", m)
			}
			opt := m.IsEdns0()
			if !tt.opt {
				if opt != nil || len(m.Extra) != 0 {
					t.Errorf("extra %v, want none for a request without EDNS", m.Extra)
				}
				return
			}
			if opt == nil {
				t.Fatal("no OPT record")
			}
			if opt.UDPSize() != tt.size || opt.Do() != tt.do || opt.Version() != 0 {
				t.Errorf("OPT size %d do %v version %d, want %d %v 0", opt.UDPSize(), opt.Do(), opt.Version(), tt.size, tt.do)
			}
			if len(opt.Option) != 1 {
				t.Fatalf("options %v, want one EDE", opt.Option)
			}
			e, ok := opt.Option[0].(*dns.EDNS0_EDE)
			if !ok || e.InfoCode != tt.code || e.ExtraText == "" {
				t.Errorf("option %v, want EDE %d with text", opt.Option[0], tt.code)
			}
			if _, err := m.Pack(); err != nil {
				t.Errorf("pack: %v", err)
			}
		})
	}
}

// TestServFailFromExchange checks the EDE of real failures end to end.
func TestServFailFromExchange(t *testing.T) {
	silent, _ := silentAddr(t)
	u := newUpstream(t, Config{}, append(closedAddrs(t, 1), silent)...)
	req := query("www.example.org.", dns.TypeA)
	req.SetEdns0(1232, true)
	_, err := exchange(t, u, req)
	if err == nil {
		t.Fatal("exchange with dead servers succeeded")
	}
	m := ServFail(req, err)
	opt := m.IsEdns0()
	if opt == nil || len(opt.Option) != 1 {
		t.Fatalf("reply %v, want an OPT with one EDE", m)
	}
	if e := opt.Option[0].(*dns.EDNS0_EDE); e.InfoCode != dns.ExtendedErrorCodeNoReachableAuthority {
		t.Errorf("EDE %d (%s), want 22 for refused + timed out", e.InfoCode, err)
	}
}

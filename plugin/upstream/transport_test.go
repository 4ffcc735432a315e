package upstream

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promtest"
)

// overTCP reports whether w is a TCP connection.
func overTCP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.TCPAddr)
	return ok
}

func TestTruncatedRetriesOverTCP(t *testing.T) {
	truncating := func(tcpAnswers bool) dns.HandlerFunc {
		return func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			switch {
			case !overTCP(w):
				m.Truncated = true
			case !tcpAnswers:
				return // silence over TCP
			default:
				m.Answer = append(m.Answer, mustRR(answerA))
			}
			_ = w.WriteMsg(m)
		}
	}
	tests := []struct {
		name     string
		net      string
		first    dns.HandlerFunc
		udp, tcp int32 // queries the first server gets over each
		second   int   // calls to the second server
		result   string
	}{
		{"udp truncated, tcp answers", "", truncating(true), 1, 1, 0, resultSuccess},
		{"tcp only", "tcp", truncating(true), 0, 1, 0, resultSuccess},
		{"udp truncated, tcp silent: next server", "udp", truncating(false), 1, 1, 1, resultTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := startServer(t, tt.first)
			second := startServer(t, reply(dns.RcodeSuccess, answerA))
			reg := prometheus.NewPedanticRegistry()
			u := newUpstream(t, Config{Net: tt.net, Registerer: reg}, first.addr, second.addr)
			r := mustExchange(t, u, query("www.example.org.", dns.TypeA))
			if r.Truncated || len(r.Answer) != 1 {
				t.Errorf("reply truncated=%v with %d answers, want the full answer", r.Truncated, len(r.Answer))
			}
			if first.udp.Load() != tt.udp || first.tcp.Load() != tt.tcp || second.calls() != tt.second {
				t.Errorf("first udp %d tcp %d, second %d; want %d %d %d",
					first.udp.Load(), first.tcp.Load(), second.calls(), tt.udp, tt.tcp, tt.second)
			}
			promtest.Check(t, reg, map[string]float64{reqKey(first.addr, tt.result): 1})
		})
	}
}

// withECS adds an OPT record with a client subnet option to m.
func withECS(m *dns.Msg, ip string, bits, scope uint8) *dns.Msg {
	opt := m.IsEdns0()
	if opt == nil {
		m.SetEdns0(1232, false)
		opt = m.IsEdns0()
	}
	family := uint16(1)
	if net.ParseIP(ip).To4() == nil {
		family = 2
	}
	opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: bits, SourceScope: scope, Address: net.ParseIP(ip),
	})
	return m
}

// badReplyHandler answers with the reply to r that change spoils.
func badReplyHandler(change func(m *dns.Msg)) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, mustRR(answerA))
		if o := r.IsEdns0(); o != nil {
			m.Extra = append(m.Extra, dns.Copy(o))
		}
		change(m)
		_ = w.WriteMsg(m)
	}
}

func TestMismatchedRepliesRejected(t *testing.T) {
	malformed := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, mustRR(answerA))
		b, _ := m.Pack()
		_, _ = w.Write(b[:len(b)-3])
	}
	tests := []struct {
		name    string
		handler dns.HandlerFunc
		want    error
	}{
		{"wrong id", badReplyHandler(func(m *dns.Msg) { m.Id++ }), ErrMismatch},
		{"not a response", badReplyHandler(func(m *dns.Msg) { m.Response = false }), ErrMismatch},
		{"other name", badReplyHandler(func(m *dns.Msg) { m.Question[0].Name = "evil.example.org." }), ErrMismatch},
		{"other type", badReplyHandler(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }), ErrMismatch},
		{"no question in NOERROR", badReplyHandler(func(m *dns.Msg) { m.Question = nil }), ErrMismatch},
		{"other client subnet", badReplyHandler(func(m *dns.Msg) {
			subnet(m.IsEdns0()).Address = net.ParseIP("10.9.0.0")
		}), ErrMismatch},
		{"other source prefix length", badReplyHandler(func(m *dns.Msg) {
			subnet(m.IsEdns0()).SourceNetmask = 8
		}), ErrMismatch},
		{"malformed", malformed, ErrMalformed},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				t.Parallel() // each waits out a Timeout over UDP
				s := startServer(t, tt.handler)
				reg := prometheus.NewPedanticRegistry()
				// UDP drops the bad reply and waits out Timeout for a good
				// one; TCP gives up at once, long before its Timeout. The
				// UDP Timeout leaves the bad reply a second to arrive: at
				// 100 ms it came too late once on a loaded machine (CI).
				timeout := map[string]time.Duration{"udp": time.Second, "tcp": 4 * time.Second}[network]
				u := newUpstream(t, Config{Net: network, Timeout: timeout, Registerer: reg}, s.addr)
				begin := time.Now()
				_, err := exchange(t, u, withECS(query("www.example.org.", dns.TypeA), "10.1.0.0", 16, 0))
				took := time.Since(begin)
				if !errors.Is(err, tt.want) || !errors.Is(err, ErrUnreachable) {
					t.Fatalf("err %v, want %v and ErrUnreachable", err, tt.want)
				}
				if network == "udp" && took < timeout || network == "tcp" && took > timeout/2 {
					t.Errorf("took %v over %s with Timeout %v", took, network, timeout)
				}
				if got := ede(err).InfoCode; got != dns.ExtendedErrorCodeNetworkError {
					t.Errorf("EDE %d, want 23 (a server answered)", got)
				}
				promtest.Check(t, reg, map[string]float64{reqKey(s.addr, resultError): 1})
			})
		}
	}
}

func TestSpoofedThenRealReply(t *testing.T) {
	s := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Id++
		m.Answer = append(m.Answer, mustRR("www.example.org. 60 IN A 203.0.113.66"))
		_ = w.WriteMsg(m)
		reply(dns.RcodeSuccess, answerA)(w, r)
	})
	u := newUpstream(t, Config{}, s.addr)
	r := mustExchange(t, u, query("www.example.org.", dns.TypeA))
	if got, want := answerText(r), mustRR(answerA).String()+"\n"; got != want {
		t.Errorf("answer %q, want %q", got, want)
	}
}

func TestEmptyQuestionInErrorReply(t *testing.T) {
	s := startServer(t, badReplyHandler(func(m *dns.Msg) {
		m.Question, m.Answer, m.Rcode = nil, nil, dns.RcodeFormatError
	}))
	u := newUpstream(t, Config{}, s.addr)
	r := mustExchange(t, u, query("www.example.org.", dns.TypeA))
	if r.Rcode != dns.RcodeFormatError {
		t.Errorf("rcode %s, want FORMERR passed on", dns.RcodeToString[r.Rcode])
	}
}

func TestBadRequest(t *testing.T) {
	u := newUpstream(t, Config{}, closedAddrs(t, 1)...)
	two := query("a.example.org.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	resp := query("a.example.org.", dns.TypeA)
	resp.Response = true
	for name, req := range map[string]*dns.Msg{"nil": nil, "no question": new(dns.Msg), "two": two, "response": resp} {
		if _, err := u.Exchange(t.Context(), req); !errors.Is(err, ErrRequest) {
			t.Errorf("%s: err %v, want ErrRequest", name, err)
		}
	}
}

func TestDialHook(t *testing.T) {
	s := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = !overTCP(w)
		_ = w.WriteMsg(m)
	})
	var dials []string
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("dial without a deadline")
		}
		dials = append(dials, network+" "+address)
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	u := newUpstream(t, Config{Dial: dial}, s.addr)
	mustExchange(t, u, query("www.example.org.", dns.TypeA))
	if want := []string{"udp " + s.addr, "tcp " + s.addr}; !slices.Equal(dials, want) {
		t.Errorf("dials %q, want %q", dials, want)
	}
}

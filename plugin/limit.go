package meridian

import (
	"net"
	"net/netip"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/rrl"
)

// rrlReplies counts the replies response rate limiting limited, by class
// and what became of them. With rrl_log_only they count what would have.
var rrlReplies = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: plugin.Namespace,
	Subsystem: subsystem,
	Name:      "rrl_replies_total",
	Help:      "UDP replies limited by response rate limiting, by class (response, nxdomain, error) and action (dropped, slipped: sent truncated); with rrl_log_only, those that would have been.",
}, []string{"class", "action"})

// limiter is the block's response rate limiting: package rrl's accounts
// and the counters of what it limited, looked up once. The handler's
// writer (limitWriter) and the fast path both go through check.
type limiter struct {
	*rrl.Limiter
	now     func() time.Time
	limited [3][3]prometheus.Counter // [class][action]
}

func newLimiter(cfg *rrl.Config) (*limiter, error) {
	if cfg == nil {
		return nil, nil
	}
	l, err := rrl.New(*cfg)
	if err != nil {
		return nil, err
	}
	lim := &limiter{Limiter: l, now: time.Now}
	for _, c := range rrl.Classes {
		for _, a := range []rrl.Action{rrl.Drop, rrl.Slip} {
			lim.limited[c][a] = rrlReplies.WithLabelValues(c.String(), a.String())
		}
	}
	return lim, nil
}

// check accounts for a reply with rcode to client, for qname and qtype in
// zone, counts it if limited, and says what to send: the reply (Send),
// nothing (Drop) or the reply truncated (Slip).
func (l *limiter) check(client netip.Addr, rcode int, zone, qname string, qtype uint16) rrl.Action {
	class, name := rrl.Error, ""
	switch rcode {
	case dns.RcodeSuccess:
		class, name = rrl.Response, qname
	case dns.RcodeNameError:
		class, name = rrl.NXDomain, zone
	}
	a := l.Check(l.now(), client, class, name, qtype)
	if a != rrl.Send {
		l.limited[class][a].Inc()
	}
	return l.Enforce(a)
}

// limit returns w, or, when the block limits responses and the query came
// over UDP, a writer that limits what is written to it (TCP replies
// cannot go to a spoofed address, and are never limited).
func (m *Meridian) limit(w dns.ResponseWriter, zone string) dns.ResponseWriter {
	if m.rrl == nil {
		return w
	}
	ua, ok := w.RemoteAddr().(*net.UDPAddr)
	if !ok {
		return w
	}
	return &limitWriter{ResponseWriter: w, l: m.rrl, zone: zone, client: ua.AddrPort().Addr()}
}

// limitWriter is a UDP reply's writer under response rate limiting.
type limitWriter struct {
	dns.ResponseWriter
	l      *limiter
	zone   string
	client netip.Addr
}

// WriteMsg writes m, nothing, or m truncated, as the limiter says.
func (w *limitWriter) WriteMsg(m *dns.Msg) error {
	var qname string
	var qtype uint16
	if len(m.Question) == 1 {
		qname, qtype = dnsmsg.Lower(m.Question[0].Name), m.Question[0].Qtype
	}
	switch w.l.check(w.client, m.Rcode, w.zone, qname, qtype) {
	case rrl.Drop:
		return nil
	case rrl.Slip:
		return w.ResponseWriter.WriteMsg(truncated(m))
	}
	return w.ResponseWriter.WriteMsg(m)
}

// truncated is m with TC set and no records but its OPT: the reply a
// limited client gets now and then (slip), which sends a real resolver to
// TCP. The fast path writes the same bytes (fastpath.AppendTruncated).
func truncated(m *dns.Msg) *dns.Msg {
	t := &dns.Msg{MsgHdr: m.MsgHdr, Question: m.Question, Compress: m.Compress}
	t.Truncated = true
	if opt := m.IsEdns0(); opt != nil {
		t.Extra = []dns.RR{opt}
	}
	return t
}

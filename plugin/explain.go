package meridian

import (
	"context"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/explain"
	"github.com/meridian-dns/meridian/plugin/status"
)

// Explain implements status.Backend: it asks q through ServeDNS itself,
// with a ResponseWriter that records the authoritative role's decision
// (authority.Tracer), so the report is of the answer a query gets. The
// query is a UDP query with EDNS (1232 bytes) and, when q.ECS, an ECS
// option of q.Client; otherwise q.Client is its source address. A traced
// answer counts in no metric. In the resolver role the reply is the one
// the resolver gives, an upstream's included, with no trace.
func (m *Meridian) Explain(ctx context.Context, q explain.Question) (*explain.Report, error) {
	if dnsmsg.MatchZone(m.cfg.Zones, q.Name) == "" {
		return nil, fmt.Errorf("%w: %s is in none of the zones served (%s)", status.ErrQuestion, q.Name, strings.Join(m.cfg.Zones, " "))
	}
	req := new(dns.Msg)
	req.SetQuestion(q.Name, q.Type)
	req.SetEdns0(dnsmsg.UDPSize, false)
	w := &traceWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53535}}
	if q.ECS {
		opt := req.IsEdns0()
		opt.Option = append(opt.Option, dnsmsg.Subnet(q.Client))
	} else {
		w.remote = &net.UDPAddr{IP: q.Client.Addr().AsSlice(), Port: 53535}
	}
	w.trace.Snapshot = m.Snapshot()
	if _, err := m.ServeDNS(ctx, w, req); err != nil {
		return nil, err
	}
	in := explain.Input{Question: q, Reply: w.msg, GeoIP: m.cfg.GeoIP != "", Health: m.pipe}
	if m.locator != nil && q.Client.IsValid() && q.Client.Bits() > 0 {
		in.Located = m.locator.Locate(q.Client)
	}
	if m.auth != nil {
		in.Trace = &w.trace
	}
	return explain.Build(in), nil
}

// Overview implements status.Backend.
func (m *Meridian) Overview() status.Overview {
	ts, total := m.hist.Recent()
	return status.Overview{
		Federation: m.cfg.Federation, Zones: m.cfg.Zones, Role: m.cfg.Role.String(),
		Snapshot: m.Snapshot(), Transitions: ts, Total: total,
		GeoIP: m.locator.Info(), Errors: m.errs.all(), Now: time.Now(),
	}
}

// traceWriter is the ResponseWriter of an explained query: it keeps the
// reply and asks for the trace.
type traceWriter struct {
	remote net.Addr
	msg    *dns.Msg
	trace  authority.Trace
}

var _ authority.Tracer = (*traceWriter)(nil)

func (w *traceWriter) Trace() *authority.Trace { return &w.trace }
func (w *traceWriter) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *traceWriter) RemoteAddr() net.Addr      { return w.remote }
func (w *traceWriter) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }
func (w *traceWriter) Write(b []byte) (int, error) {
	return 0, fmt.Errorf("explain: raw write of %d bytes", len(b))
}
func (w *traceWriter) Close() error        { return nil }
func (w *traceWriter) TsigStatus() error   { return nil }
func (w *traceWriter) TsigTimersOnly(bool) {}
func (w *traceWriter) Hijack()             {}

// lastErrors keeps the latest error each cluster's source reported,
// for the status page: one entry per cluster.
type lastErrors struct {
	mu   sync.Mutex
	last map[string]status.SourceError
}

func (e *lastErrors) add(cluster string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last = map[string]status.SourceError{}
	}
	n := e.last[cluster].Count + 1
	e.last[cluster] = status.SourceError{At: time.Now(), Error: err.Error(), Count: n}
}

func (e *lastErrors) all() map[string]status.SourceError {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.last)
}

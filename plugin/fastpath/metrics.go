package fastpath

import (
	"time"

	"github.com/coredns/coredns/plugin/metrics/vars"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// ZoneMetrics counts the fast path's replies for one server and zone
// label in CoreDNS's own series (coredns_dns_requests_total,
// do_requests_total, request_duration_seconds, request_size_bytes,
// response_size_bytes, responses_total), as the prometheus plugin counts
// a UDP query the chain answers NOERROR: so dashboards see every query.
// The series are looked up once, when the fast path binds; a reply costs
// their increments only.
type ZoneMetrics struct {
	count    [2][2]prometheus.Counter // [family 1, 2][A, AAAA]
	do       prometheus.Counter
	duration prometheus.Observer
	reqSize  prometheus.Observer
	respSize prometheus.Observer
	noerror  prometheus.Counter
}

// NewZoneMetrics looks up the series of server (dnsserver.Server's Addr)
// and zone; plugin is the responses_total label CoreDNS gives the reply:
// the plugin the prometheus plugin handed the query to.
func NewZoneMetrics(server, zone, plugin string) *ZoneMetrics {
	const view, proto = "", "udp"
	m := &ZoneMetrics{
		do:       vars.RequestDo.WithLabelValues(server, zone, view),
		duration: vars.RequestDuration.WithLabelValues(server, zone, view),
		reqSize:  vars.RequestSize.WithLabelValues(server, zone, view, proto),
		respSize: vars.ResponseSize.WithLabelValues(server, zone, view, proto),
		noerror:  vars.ResponseRcode.WithLabelValues(server, zone, view, dns.RcodeToString[dns.RcodeSuccess], plugin),
	}
	for f, fam := range []string{"1", "2"} {
		for t, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			m.count[f][t] = vars.RequestCount.WithLabelValues(server, zone, view, proto, fam, dns.TypeToString[qt])
		}
	}
	return m
}

// Report counts one NOERROR reply of respLen bytes to a query of reqLen
// bytes for qtype (A or AAAA), from a client of family 6 or not, with the
// DO bit or not, that started at start.
func (m *ZoneMetrics) Report(v6 bool, qtype uint16, do bool, reqLen, respLen int, start time.Time) {
	f, t := 0, 0
	if v6 {
		f = 1
	}
	if qtype == dns.TypeAAAA {
		t = 1
	}
	if do {
		m.do.Inc()
	}
	m.count[f][t].Inc()
	m.duration.Observe(time.Since(start).Seconds())
	m.respSize.Observe(float64(respLen))
	m.reqSize.Observe(float64(reqLen))
	m.noerror.Inc()
}

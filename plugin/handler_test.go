package meridian

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

const (
	global = "nginx.default.myfed.svc.example.com."
	usc1   = "nginx.default.myfed.svc.us-central1.example.com."
	usc1b  = "nginx.default.myfed.svc.us-central1-b.us-central1.example.com."
	usc1a  = "nginx.default.myfed.svc.us-central1-a.us-central1.example.com."
	soa    = "example.com. SOA"
)

// serveCase is one query and the reply it must get. Answer and Extra are
// records in presentation form with single spaces; Ns lists "owner TYPE".
type serveCase struct {
	name   string
	msg    *dns.Msg
	mod    func(*Config)
	rcode  int
	answer []string
	ns     []string
	extra  []string
	scope  int      // expected ECS scope; -1: no ECS option in the reply
	remote net.Addr // the query's source address; nil: 10.240.0.1, which GeoIP cannot place
}

// In the fixture, nginx's shard in us-central1-b has no ready endpoint, so
// nginx is degraded and answered with the degraded TTL (5 s); shop/web is
// whole and keeps the TTL (30 s).
func TestServeDNS(t *testing.T) {
	q := query
	tests := []serveCase{
		// Geo-steered global answers.
		{name: "asia client", msg: q(global, dns.TypeA, "27.0.0.0/24"), answer: []string{global + " 5 IN A 203.0.113.11"}, scope: 16},
		// 24.0.0.0/16 holds 24.0.128.0/24, so the MMDB network of 24.0.0.0 is /17.
		{name: "us client", msg: q(global, dns.TypeA, "24.0.0.0/24"), answer: []string{global + " 5 IN A 192.0.2.11"}, scope: 17},
		// Widened (the default): 24.0.0.0/17 and the space around it see
		// the regions in one order.
		{name: "us client, widened scope", msg: q(global, dns.TypeA, "24.0.0.0/24"), answer: []string{global + " 5 IN A 192.0.2.11"}, scope: 16, mod: widened},
		{name: "europe client", msg: q(global, dns.TypeA, "81.0.0.0/24"), answer: []string{global + " 5 IN A 198.51.100.11"}, scope: 16},
		{name: "africa client gets the closest: europe", msg: q(global, dns.TypeA, "41.0.0.0/24"), answer: []string{global + " 5 IN A 198.51.100.11"}, scope: 16},
		{name: "ipv6 client subnet", msg: q(global, dns.TypeA, "2001:200::/48"), answer: []string{global + " 5 IN A 203.0.113.11"}, scope: 32},
		{name: "longer mmdb network: scope longer than source", msg: q(global, dns.TypeA, "24.0.0.0/12"), answer: []string{global + " 5 IN A 192.0.2.11"}, scope: 17},
		{name: "new york /24 inside chicago /16", msg: q(global, dns.TypeA, "24.0.128.0/24"), answer: []string{global + " 5 IN A 192.0.2.11"}, scope: 24},
		{name: "no ECS: source address, unknown: default region", msg: q(global, dns.TypeA, ""), answer: []string{global + " 5 IN A 198.51.100.11"}, scope: -1},
		{name: "ECS /0: unknown, scope 0", msg: q(global, dns.TypeA, "0.0.0.0/0"), answer: []string{global + " 5 IN A 198.51.100.11"}, scope: 0},
		{name: "private subnet: default region", msg: q(global, dns.TypeA, "10.1.0.0/16"), answer: []string{global + " 5 IN A 198.51.100.11"},
			scope: 8}, // the MMDB's empty network 10.0.0.0/8
		{name: "AAAA picks among IPv6 shards", msg: q(global, dns.TypeAAAA, "24.0.0.0/24"), answer: []string{global + " 5 IN AAAA 2001:db8:2::11"}, scope: 17},
		{name: "uppercase keeps the query's case", msg: q("NGINX.Default.MyFed.SVC.Example.COM.", dns.TypeA, "27.0.0.0/24"),
			answer: []string{"NGINX.Default.MyFed.SVC.Example.COM. 5 IN A 203.0.113.11"}, scope: 16},
		{name: "two shards", msg: q(global, dns.TypeA, "27.0.0.0/24"), mod: func(c *Config) { c.Build.Defaults.Shards = 2 },
			answer: []string{global + " 5 IN A 203.0.113.11", global + " 5 IN A 198.51.100.11"}, scope: 16},

		// Region and zone names: no client dependence, CNAME up when empty.
		{name: "region", msg: q(usc1, dns.TypeA, "27.0.0.0/24"), answer: []string{usc1 + " 5 IN A 192.0.2.11"}, scope: 0},
		{name: "zone with a ready shard", msg: q(usc1a, dns.TypeA, ""), answer: []string{usc1a + " 5 IN A 192.0.2.11"}, scope: -1},
		{name: "zone without: CNAME to region", msg: q(usc1b, dns.TypeA, "27.0.0.0/24"),
			answer: []string{usc1b + " 5 IN CNAME " + usc1, usc1 + " 5 IN A 192.0.2.11"}, scope: 0},
		{name: "CNAME query gets the CNAME only", msg: q(usc1b, dns.TypeCNAME, ""), answer: []string{usc1b + " 5 IN CNAME " + usc1}, scope: -1},
		{name: "nothing ready: zone, region, global fail open", msg: q(usc1a, dns.TypeA, "27.0.0.0/24"),
			mod: func(c *Config) { c.Build.Defaults.MinReady = 4 },
			answer: []string{usc1a + " 5 IN CNAME " + usc1, usc1 + " 5 IN CNAME " + global,
				// closest first; the two us-central1 shards tie and the client's network hash orders them
				global + " 5 IN A 203.0.113.11", global + " 5 IN A 198.51.100.11", global + " 5 IN A 192.0.2.12", global + " 5 IN A 192.0.2.11"},
			scope: 16},

		// Other record types.
		{name: "SRV with glue", msg: q("_http._tcp."+global, dns.TypeSRV, "27.0.0.0/24"),
			answer: []string{"_http._tcp." + global + " 5 IN SRV 0 100 80 " + global},
			extra:  []string{global + " 5 IN A 203.0.113.11", global + " 5 IN AAAA 2001:db8:3::11"}, scope: 16},
		{name: "SRV at a zone falls back", msg: q("_http._tcp."+usc1b, dns.TypeSRV, ""),
			answer: []string{"_http._tcp." + usc1b + " 5 IN CNAME _http._tcp." + usc1, "_http._tcp." + usc1 + " 5 IN SRV 0 100 80 " + usc1},
			extra:  []string{usc1 + " 5 IN A 192.0.2.11"}, scope: -1},
		{name: "TXT names the cluster", msg: q(global, dns.TypeTXT, "27.0.0.0/24"),
			answer: []string{global + ` 5 IN TXT "cluster=asia-east1-a" "region=asia-east1" "zones=asia-east1-a" "ready=3/3"`}, scope: 16},
		{name: "degraded TTL never above the TTL", msg: q(usc1a, dns.TypeA, ""), mod: func(c *Config) { c.Authority.TTL = 3 },
			answer: []string{usc1a + " 3 IN A 192.0.2.11"}, scope: -1},
		{name: "ANY: RFC 8482", msg: q(global, dns.TypeANY, ""), answer: []string{global + ` 30 IN HINFO "RFC8482" ""`}, scope: -1},
		{name: "MX: NODATA", msg: q(global, dns.TypeMX, ""), ns: []string{soa}, scope: -1},
		{name: "unknown type: NODATA", msg: q(global, 65280, ""), ns: []string{soa}, scope: -1},
		{name: "hostname LB: CNAME", msg: q("web.shop.myfed.svc.example.com.", dns.TypeAAAA, "27.0.0.0/24"),
			answer: []string{"web.shop.myfed.svc.example.com. 30 IN CNAME web-eu.lb.example.net."}, scope: 0},
		{name: "hostname LB SRV targets the hostname", msg: q("_https._tcp.web.shop.myfed.svc.example.com.", dns.TypeSRV, ""),
			answer: []string{"_https._tcp.web.shop.myfed.svc.example.com. 30 IN SRV 0 100 443 web-eu.lb.example.net."}, scope: -1},

		// The zone's tree: apex, nameservers, empty non-terminals, NXDOMAIN.
		{name: "apex SOA", msg: q("example.com.", dns.TypeSOA, ""), answer: []string{"SOA"}, ns: []string{"example.com. NS"}, scope: -1},
		{name: "apex NS with glue", msg: q("example.com.", dns.TypeNS, ""), answer: []string{"example.com. 30 IN NS ns1.example.com."},
			extra: []string{"ns1.example.com. 30 IN A 127.0.0.1", "ns1.example.com. 30 IN AAAA ::1"}, scope: -1},
		{name: "apex A: NODATA", msg: q("example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "nameserver glue", msg: q("ns1.example.com.", dns.TypeAAAA, ""), answer: []string{"ns1.example.com. 30 IN AAAA ::1"}, scope: -1},
		{name: "nameserver MX: NODATA", msg: q("ns1.example.com.", dns.TypeMX, ""), ns: []string{soa}, scope: -1},
		{name: "ENT namespace", msg: q("default.myfed.svc.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "ENT svc", msg: q("svc.example.com.", dns.TypeA, "27.0.0.0/24"), ns: []string{soa}, scope: 0},
		{name: "ENT region", msg: q("us-central1.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "ENT zone", msg: q("asia-east1-a.asia-east1.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "ENT proto", msg: q("_tcp."+global, dns.TypeSRV, ""), ns: []string{soa}, scope: -1},
		{name: "no such service", rcode: dns.RcodeNameError, msg: q("nope.default.myfed.svc.example.com.", dns.TypeA, "27.0.0.0/24"), ns: []string{soa}, scope: 0},
		{name: "no such region", rcode: dns.RcodeNameError, msg: q("nginx.default.myfed.svc.mars-1.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "zone of another region", rcode: dns.RcodeNameError, msg: q("nginx.default.myfed.svc.asia-east1-a.us-central1.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "other federation", rcode: dns.RcodeNameError, msg: q("nginx.default.other.svc.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "no such port", rcode: dns.RcodeNameError, msg: q("_dns._udp."+global, dns.TypeSRV, ""), ns: []string{soa}, scope: -1},
		{name: "too many labels", rcode: dns.RcodeNameError, msg: q("a.b.c.d.e.f.g.h.i.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "too few labels", rcode: dns.RcodeNameError, msg: q("nginx.example.com.", dns.TypeA, ""), ns: []string{soa}, scope: -1},
		{name: "outside the zone", rcode: dns.RcodeRefused, msg: q("example.org.", dns.TypeA, ""), scope: -1},
		{name: "class CH", rcode: dns.RcodeRefused, msg: func() *dns.Msg { m := q(global, dns.TypeTXT, ""); m.Question[0].Qclass = dns.ClassCHAOS; return m }(), scope: -1},
		{name: "AXFR", rcode: dns.RcodeRefused, msg: q("example.com.", dns.TypeAXFR, ""), scope: -1},
		{name: "NOTIFY opcode", rcode: dns.RcodeNotImplemented, msg: func() *dns.Msg { m := q("example.com.", dns.TypeSOA, ""); m.Opcode = dns.OpcodeNotify; return m }(), scope: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.scope == 0 && !hasECS(tc.msg) {
				tc.scope = -1 // a query without ECS gets none back: scope 0 is the zero value
			}
			checkServe(t, newTestPlugin(t, modOrNil(tc.mod)...), tc)
		})
	}
}

func modOrNil(f func(*Config)) []func(*Config) {
	if f == nil {
		return nil
	}
	return []func(*Config){f}
}

func hasECS(m *dns.Msg) bool { return dnsmsg.SubnetOf(m) != nil }

func checkServe(t *testing.T, m *Meridian, tc serveCase) {
	t.Helper()
	var w dns.ResponseWriter = &test.ResponseWriter{}
	if tc.remote != nil {
		w = &sourceWriter{remote: tc.remote}
	}
	rec := dnstest.NewRecorder(w)
	if _, err := m.ServeDNS(context.Background(), rec, tc.msg); err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	resp := rec.Msg
	if resp == nil {
		t.Fatal("no reply written")
	}
	if resp.Rcode != tc.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
	}
	if resp.RecursionAvailable {
		t.Error("RA set")
	}
	if inZone := tc.rcode == dns.RcodeSuccess || tc.rcode == dns.RcodeNameError; resp.Authoritative != inZone {
		t.Errorf("AA %v, want %v", resp.Authoritative, inZone)
	}
	checkSection(t, "answer", resp.Answer, tc.answer)
	checkSection(t, "authority", resp.Ns, tc.ns)
	checkSection(t, "additional", resp.Extra, tc.extra)
	if len(resp.Answer) == 0 && len(tc.ns) > 0 {
		checkNegativeSOA(t, m, resp)
	}
	checkScope(t, resp, tc.scope)
	ecs := dnsmsg.SubnetOf(resp)
	if q := dnsmsg.SubnetOf(tc.msg); ecs != nil && (ecs.SourceNetmask != q.SourceNetmask || !ecs.Address.Equal(q.Address) || ecs.Family != q.Family) {
		t.Errorf("ECS not echoed: sent %v, got %v", q, ecs)
	}
}

// checkScope checks the reply's ECS option: none when scope < 0, else one
// with that scope.
func checkScope(t *testing.T, resp *dns.Msg, scope int) {
	t.Helper()
	ecs := dnsmsg.SubnetOf(resp)
	switch {
	case scope < 0 && ecs != nil:
		t.Errorf("reply has ECS %v, want none", ecs)
	case scope >= 0 && ecs == nil:
		t.Errorf("reply has no ECS, want scope %d", scope)
	case ecs != nil && int(ecs.SourceScope) != scope:
		t.Errorf("ECS scope %d, want %d", ecs.SourceScope, scope)
	}
}

// checkSection compares records with want, in order for the answer (CNAME
// chains and closeness order matter) and sorted for the other sections. A
// want entry of "owner TYPE" or "TYPE" matches on those fields only.
func checkSection(t *testing.T, name string, rrs []dns.RR, want []string) {
	t.Helper()
	var got []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			got = append(got, strings.Join(strings.Fields(rr.String()), " "))
		}
	}
	if name != "answer" {
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %q, want %q", name, got, want)
		return
	}
	for i := range got {
		f, w := strings.Fields(got[i]), strings.Fields(want[i])
		short := (len(w) == 2 && f[0] == w[0] && f[3] == w[1]) || (len(w) == 1 && f[3] == w[0])
		if got[i] != want[i] && !short {
			t.Errorf("%s[%d]: got %q, want %q", name, i, got[i], want[i])
		}
	}
}

// TestServeDNSRootZone checks the defaults' names when the zone is the root.
func TestServeDNSRootZone(t *testing.T) {
	m := newTestPlugin(t, func(c *Config) { c.Zones = []string{"."}; c.Authority.Nameservers = nil })
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	m.ServeDNS(context.Background(), rec, query(".", dns.TypeSOA, ""))
	if rec.Msg == nil || len(rec.Msg.Answer) != 1 {
		t.Fatalf("reply %v, want the SOA", rec.Msg)
	}
	soa := rec.Msg.Answer[0].(*dns.SOA)
	if soa.Ns != "ns1." || soa.Mbox != "hostmaster." {
		t.Errorf("SOA %v, want ns1. and hostmaster.", soa)
	}
	if _, err := rec.Msg.Pack(); err != nil {
		t.Errorf("reply does not pack: %v", err)
	}
}

func TestServeDNSMalformed(t *testing.T) {
	m := newTestPlugin(t)
	ecsQuery := func(mut func(*dns.EDNS0_SUBNET)) *dns.Msg {
		msg := query(global, dns.TypeA, "27.0.0.0/24")
		mut(dnsmsg.SubnetOf(msg))
		return msg
	}
	tests := []struct {
		name  string
		msg   *dns.Msg
		rcode int
	}{
		{"scope set in the query", ecsQuery(func(e *dns.EDNS0_SUBNET) { e.SourceScope = 8 }), dns.RcodeFormatError},
		{"bits beyond the prefix", ecsQuery(func(e *dns.EDNS0_SUBNET) { e.Address = net.IPv4(27, 0, 0, 1).To4() }), dns.RcodeFormatError},
		{"two options", func() *dns.Msg {
			msg := query(global, dns.TypeA, "27.0.0.0/24")
			o := msg.IsEdns0()
			o.Option = append(o.Option, o.Option[0])
			return msg
		}(), dns.RcodeFormatError},
		{"no question", &dns.Msg{MsgHdr: dns.MsgHdr{Id: 7}}, dns.RcodeFormatError},
		{"two questions", func() *dns.Msg {
			msg := query(global, dns.TypeA, "")
			msg.Question = append(msg.Question, msg.Question[0])
			return msg
		}(), dns.RcodeFormatError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			m.ServeDNS(context.Background(), rec, tc.msg)
			if rec.Msg == nil || rec.Msg.Rcode != tc.rcode || len(rec.Msg.Answer) != 0 {
				t.Fatalf("reply %v, want rcode %s and no answer", rec.Msg, dns.RcodeToString[tc.rcode])
			}
			if _, err := rec.Msg.Pack(); err != nil {
				t.Errorf("reply does not pack: %v", err)
			}
		})
	}
}

func TestServeDNSNotReady(t *testing.T) {
	m := newTestPlugin(t)
	m = assembled(t, m.cfg, m.locator) // no snapshot yet
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	m.ServeDNS(context.Background(), rec, query(global, dns.TypeA, ""))
	if rec.Msg == nil || rec.Msg.Rcode != dns.RcodeServerFailure {
		t.Fatalf("reply %v, want SERVFAIL before the first snapshot", rec.Msg)
	}
}

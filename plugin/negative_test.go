package meridian

import (
	"context"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// wantSOA is what a negative reply's SOA must hold, the serial aside.
type wantSOA struct {
	owner, mname, rname string
	ttl                 uint32 // the record's TTL and its MINIMUM
}

// checkSOA checks that rrs is one SOA as want describes (RFC 2308: the
// record's TTL and MINIMUM both the negative TTL), and returns its serial.
func checkSOA(t *testing.T, rrs []dns.RR, want wantSOA) uint32 {
	t.Helper()
	if len(rrs) != 1 {
		t.Errorf("authority %v, want one SOA", rrs)
		return 0
	}
	soa, ok := rrs[0].(*dns.SOA)
	if !ok {
		t.Errorf("authority %v, want a SOA", rrs[0])
		return 0
	}
	if soa.Hdr.Name != want.owner || soa.Hdr.Ttl != want.ttl || soa.Minttl != want.ttl || soa.Ns != want.mname || soa.Mbox != want.rname {
		t.Errorf("SOA %q, want owner %s, TTL and MINIMUM %d, MNAME %s, RNAME %s", soa, want.owner, want.ttl, want.mname, want.rname)
	}
	return soa.Serial
}

// checkNegativeSOA checks the SOA of m's negative reply resp against m's
// configuration, and that its serial is the apex SOA's.
func checkNegativeSOA(t *testing.T, m *Meridian, resp *dns.Msg) {
	t.Helper()
	zone := dnsmsg.MatchZone(m.cfg.Zones, resp.Question[0].Name)
	want := wantSOA{owner: zone, ttl: m.cfg.Authority.NegativeTTL, mname: "ns1." + zone, rname: "hostmaster." + zone}
	if len(m.cfg.Authority.Nameservers) > 0 {
		want.mname = m.cfg.Authority.Nameservers[0].Name
	}
	if m.cfg.Authority.Hostmaster != "" {
		want.rname = m.cfg.Authority.Hostmaster
	}
	serial := checkSOA(t, resp.Ns, want)
	if apex := apexSOA(t, m, zone); apex == nil || apex.Serial != serial {
		t.Errorf("negative SOA serial %d, apex SOA %v", serial, apex)
	}
}

// apexSOA asks m for zone's SOA.
func apexSOA(t *testing.T, m *Meridian, zone string) *dns.SOA {
	t.Helper()
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	m.ServeDNS(context.Background(), rec, query(zone, dns.TypeSOA, ""))
	if rec.Msg == nil || len(rec.Msg.Answer) != 1 {
		t.Errorf("apex SOA query: reply %v", rec.Msg)
		return nil
	}
	soa, _ := rec.Msg.Answer[0].(*dns.SOA)
	return soa
}

// TestServeDNSNegativeSOA: NXDOMAIN and NODATA carry the SOA made from the
// Corefile's negative_ttl, first ns and hostmaster, with the apex's
// serial; the defaults when none is set. The fixture's ns1.example.com and
// TTLs of 30 are the defaults too, so these cases change each.
func TestServeDNSNegativeSOA(t *testing.T) {
	custom := func(c *Config) {
		c.Authority.NegativeTTL = 7
		c.Authority.Hostmaster = "dns-admin.example.org."
		c.Authority.Nameservers = []authority.Nameserver{{Name: "ns2.example.net."}, {Name: "ns1.example.com.", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}}
	}
	defaults := func(c *Config) { c.Authority.Nameservers, c.Authority.Hostmaster = nil, "" }
	nx, nodata := "nope.default.myfed.svc.example.com.", "default.myfed.svc.example.com."
	tests := []struct {
		name  string
		mod   func(*Config)
		msg   *dns.Msg
		rcode int
		want  wantSOA
	}{
		{"NXDOMAIN, configured", custom, query(nx, dns.TypeA, ""), dns.RcodeNameError,
			wantSOA{"example.com.", "ns2.example.net.", "dns-admin.example.org.", 7}},
		{"NODATA at an ENT, configured", custom, query(nodata, dns.TypeA, ""), dns.RcodeSuccess,
			wantSOA{"example.com.", "ns2.example.net.", "dns-admin.example.org.", 7}},
		{"NODATA for a type, configured, upper case", custom, query("NGINX.default.myfed.svc.Example.COM.", dns.TypeMX, ""), dns.RcodeSuccess,
			wantSOA{"example.com.", "ns2.example.net.", "dns-admin.example.org.", 7}},
		{"NODATA at the apex, configured", custom, query("example.com.", dns.TypeTXT, ""), dns.RcodeSuccess,
			wantSOA{"example.com.", "ns2.example.net.", "dns-admin.example.org.", 7}},
		{"NXDOMAIN, defaults", defaults, query(nx, dns.TypeA, "27.0.0.0/24"), dns.RcodeNameError,
			wantSOA{"example.com.", "ns1.example.com.", "hostmaster.example.com.", 30}},
		{"negative_ttl 0", func(c *Config) { c.Authority.NegativeTTL = 0 }, query(nx, dns.TypeAAAA, ""), dns.RcodeNameError,
			wantSOA{"example.com.", "ns1.example.com.", "hostmaster.example.com.", 0}},
		{"root zone", func(c *Config) { c.Zones, c.Authority.Nameservers = []string{"."}, nil }, query("nope.default.myfed.svc.", dns.TypeA, ""),
			dns.RcodeNameError, wantSOA{".", "ns1.", "hostmaster.", 30}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestPlugin(t, tc.mod)
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			m.ServeDNS(context.Background(), rec, tc.msg)
			resp := rec.Msg
			if resp == nil || resp.Rcode != tc.rcode || len(resp.Answer) != 0 {
				t.Fatalf("reply %v, want rcode %s and no answer", resp, dns.RcodeToString[tc.rcode])
			}
			serial := checkSOA(t, resp.Ns, tc.want)
			if apex := apexSOA(t, m, tc.want.owner); apex == nil || apex.Serial != serial {
				t.Errorf("negative SOA serial %d, apex SOA %v", serial, apex)
			}
		})
	}
}

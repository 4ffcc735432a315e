package meridian

import (
	"net"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// sourceWriter is CoreDNS's test writer with a remote address of our
// choosing: a client GeoIP can place, over UDP or TCP, as the server's
// socket reports it (4-byte, 16-byte or IPv4-mapped IPv6 addresses).
type sourceWriter struct {
	test.ResponseWriter
	remote net.Addr
}

// RemoteAddr returns the address the writer was made with.
func (w *sourceWriter) RemoteAddr() net.Addr { return w.remote }

// udpFrom and tcpFrom are remote addresses of a client at ip.
func udpFrom(ip net.IP) net.Addr { return &net.UDPAddr{IP: ip, Port: 40212} }
func tcpFrom(ip net.IP) net.Addr { return &net.TCPAddr{IP: ip, Port: 40212} }

// TestServeDNSSourceAddress locates ECS-less queries by their source
// address. The default region is set, case by case, to one the placed
// client is not closest to, so an answer for an unknown client cannot pass:
// Taipei (27.0.0.0/16) and Tokyo (2001:200::/32) are closest to
// asia-east1, Chicago (24.0.0.0/16, 2600::/32) to us-central1, Paris
// (81.0.0.0/16, 2a00::/32) to europe-west1.
func TestServeDNSSourceAddress(t *testing.T) {
	asia, usa, europe := global+" 5 IN A 203.0.113.11", global+" 5 IN A 192.0.2.11", global+" 5 IN A 198.51.100.11"
	defaults := func(region string) func(*Config) {
		return func(c *Config) { c.Authority.Answer.DefaultRegions = []string{region} }
	}
	tests := []serveCase{
		{name: "udp4, 4-byte Taipei", remote: udpFrom(net.IP{27, 0, 0, 1}), mod: defaults("europe-west1"), answer: []string{asia}},
		{name: "tcp4, 4-byte Chicago", remote: tcpFrom(net.IP{24, 0, 0, 1}), mod: defaults("europe-west1"), answer: []string{usa}},
		{name: "udp, 16-byte IPv4 Paris", remote: udpFrom(net.ParseIP("81.0.0.1")), mod: defaults("asia-east1"), answer: []string{europe}},
		{name: "tcp6 socket, IPv4-mapped Taipei", remote: tcpFrom(net.ParseIP("::ffff:27.0.0.1")), mod: defaults("us-central1"), answer: []string{asia}},
		{name: "udp6 Tokyo", remote: udpFrom(net.ParseIP("2001:200::1")), mod: defaults("europe-west1"), answer: []string{asia}},
		{name: "tcp6 Chicago", remote: tcpFrom(net.ParseIP("2600::1")), mod: defaults("asia-east1"), answer: []string{usa}},
		{name: "udp6 Paris, AAAA among IPv6 shards", remote: udpFrom(net.ParseIP("2a00::1")), mod: defaults("asia-east1"),
			msg: query(global, dns.TypeAAAA, ""), answer: []string{global + " 5 IN AAAA 2001:db8:2::11"}},
		{name: "udp6 Tokyo, AAAA", remote: udpFrom(net.ParseIP("2001:200::1")), mod: defaults("europe-west1"),
			msg: query(global, dns.TypeAAAA, ""), answer: []string{global + " 5 IN AAAA 2001:db8:3::11"}},
		{name: "EDNS without ECS: still the source address", remote: udpFrom(net.IP{24, 0, 0, 1}), mod: defaults("asia-east1"),
			msg: func() *dns.Msg { m := query(global, dns.TypeA, ""); m.SetEdns0(1232, false); return m }(), answer: []string{usa}},
		{name: "ECS wins over the source address", remote: udpFrom(net.IP{24, 0, 0, 1}), mod: defaults("europe-west1"),
			msg: query(global, dns.TypeA, "27.0.0.0/24"), answer: []string{asia}, scope: 16},
		{name: "unplaced source: the default region", remote: udpFrom(net.IP{10, 240, 0, 1}), mod: defaults("asia-east1"), answer: []string{asia}},
		{name: "two shards, closest first", remote: tcpFrom(net.ParseIP("2600::1")),
			mod: func(c *Config) {
				c.Authority.Answer.DefaultRegions = []string{"asia-east1"}
				c.Build.Defaults.Shards = 2
			},
			answer: []string{usa, europe}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.msg == nil {
				tc.msg = query(global, dns.TypeA, "")
			}
			if !hasECS(tc.msg) {
				tc.scope = -1 // no ECS sent, none echoed
			}
			checkServe(t, newTestPlugin(t, tc.mod), tc)
		})
	}
}

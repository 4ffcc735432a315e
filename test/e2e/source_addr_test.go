package e2e

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// netnsEnv marks the copy of the test binary that runs inside the private
// network namespace.
const netnsEnv = "MERIDIAN_E2E_IN_NETNS"

// placed are source addresses GeoIP places (testdata/geoip), put on the
// loopback of the test's own network namespace, with the prefix of the
// demo's nginx shards closest to each.
var placed = []struct{ addr, city, prefix string }{
	{"27.0.0.1", "Taipei", "203.0.113."}, // asia-east1
	{"24.0.0.1", "Chicago", "192.0.2."},  // us-central1
}

// TestSourceAddressLocatesClient proves end to end that a query without
// ECS is placed by its source address: from 27.0.0.1 (Taipei) nginx's
// global name answers an asia-east1 shard, from 24.0.0.1 (Chicago) a
// us-central1 one, over UDP and TCP, and the reply carries no ECS. Those
// addresses exist only on the loopback of a private network namespace
// (`unshare -n`, so root): the test runs itself again inside one, where
// meridian listens on 27.0.0.1 and 127.0.0.1. The namespace has no other
// interface, so nothing leaves it.
func TestSourceAddressLocatesClient(t *testing.T) {
	if os.Getenv(netnsEnv) == "" {
		runInNetns(t, "TestSourceAddressLocatesClient")
		return
	}
	for _, p := range placed {
		ip(t, "addr", "add", p.addr+"/32", "dev", "lo")
	}
	s := startDemoWith(t, "bind 127.0.0.1 ::1", "bind 127.0.0.1 "+placed[0].addr)
	_, port, _ := net.SplitHostPort(s.DNS)
	server := net.JoinHostPort(placed[0].addr, port)
	for _, p := range placed {
		for _, network := range []string{"udp", "tcp"} {
			r := askFrom(t, network, p.addr, server, nginx)
			if got := e2eutil.Addrs(r); r.Rcode != dns.RcodeSuccess || !e2eutil.InRange(got, p.prefix) {
				t.Errorf("%s from %s (%s): %s %v, want addresses in %s*", network, p.addr, p.city, dns.RcodeToString[r.Rcode], got, p.prefix)
			}
			if ecs := e2eutil.Subnet(r); ecs != nil {
				t.Errorf("%s from %s: ECS %v in the reply to a query without one", network, p.addr, ecs)
			}
		}
	}
}

// runInNetns runs test again, in this test binary, inside a new network
// namespace with its loopback up, and fails t if it fails there. It
// skips (fails under CI) when that cannot be done.
func runInNetns(t *testing.T, test string) {
	t.Helper()
	if os.Geteuid() != 0 {
		e2eutil.RequireRealParts(t, "a private network namespace needs root")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			e2eutil.RequireRealParts(t, tool+" not installed (make tools installs it)")
		}
	}
	bin := e2eutil.Binary(t) // built here: the namespace has no network for go build
	cmd := exec.Command("unshare", "--net", "--", "sh", "-ec", `ip link set lo up; exec "$@"`, "sh",
		os.Args[0], "-test.run", "^"+test+"$", "-test.count=1", "-test.v", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), netnsEnv+"=1", "MERIDIAN_BIN="+bin)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("in a private network namespace (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s in a private network namespace: %v", test, err)
	}
}

// ip runs ip(8) with args.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

// askFrom sends an A query for name without ECS from the local address
// src to server over network.
func askFrom(t *testing.T, network, src, server, name string) *dns.Msg {
	t.Helper()
	var local net.Addr = &net.UDPAddr{IP: net.ParseIP(src)}
	if network == "tcp" {
		local = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Net: network, Timeout: 3 * time.Second, Dialer: &net.Dialer{LocalAddr: local, Timeout: 3 * time.Second}}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("%s %s from %s to %s: %v", network, name, src, server, err)
	}
	return r
}

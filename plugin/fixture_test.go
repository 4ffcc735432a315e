package meridian

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/source"
)

const testDB = "../testdata/geoip/meridian-test-city.mmdb"

// testCluster is one member cluster of the handler tests' federation.
type testCluster struct {
	name, region, zone string
	nginx              []string // nginx LB addresses
	nginxReady         int
	web                string // shop/web LB hostname, "" for none
}

var testClusters = []testCluster{
	{"us-central1-a", "us-central1", "us-central1-a", []string{"192.0.2.11"}, 3, ""},
	{"us-central1-b", "us-central1", "us-central1-b", []string{"192.0.2.12"}, 0, ""},
	{"europe-west1-b", "europe-west1", "europe-west1-b", []string{"198.51.100.11", "2001:db8:2::11"}, 3, "web-eu.lb.example.net."},
	{"asia-east1-a", "asia-east1", "asia-east1-a", []string{"203.0.113.11", "2001:db8:3::11"}, 3, ""},
}

// newTestPlugin returns a plugin serving example.com for federation myfed
// from testClusters, with the test GeoIP database and the database's
// networks as ECS scopes (ecs_scope network), which the tests' answers are
// written for: a test of widened scopes (the Corefile's default) asks for
// them with widened.
func newTestPlugin(t testing.TB, mod ...func(*Config)) *Meridian {
	t.Helper()
	cfg := newConfig()
	cfg.WidenScopes = false
	cfg.Zones = []string{"example.com."}
	cfg.Federation = "myfed"
	cfg.GeoIP = testDB
	cfg.Authority.Nameservers = []authority.Nameserver{{Name: "ns1.example.com.", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}}}
	cfg.Authority.Answer.DefaultRegions = []string{"europe-west1"}
	for _, f := range mod {
		f(cfg)
	}
	loc, err := geo.New(geo.Config{Path: cfg.GeoIP, CacheSize: 1024, Widen: widener(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loc.Stop)
	m := assembled(t, cfg, loc)
	for _, c := range testClusters {
		m.pipe.Sink().Update(c.name, source.Fixed(testObjects(c)))
		m.pipe.Sink().SetState(c.name, health.Up)
	}
	rebuildSettled(t, m)
	return m
}

// widened is `ecs_scope widened`, the Corefile's default.
func widened(c *Config) { c.WidenScopes = true }

// rebuildSettled rebuilds m's snapshot and waits until its ECS scopes are
// the ones they stay (the widened table for its locations, the default,
// is built in the background): so that two answers a test compares are
// not one before the table and one after.
func rebuildSettled(t testing.TB, m *Meridian) {
	t.Helper()
	snap := m.pipe.Rebuild()
	for deadline := time.Now().Add(10 * time.Second); !m.locator.ScopesSettled(snap.Locations); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the scope table was not built in 10 s")
		}
	}
}

func testObjects(c testCluster) source.Objects {
	nginx := &source.Service{Namespace: "default", Name: "nginx",
		Ports: []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}}
	for _, a := range c.nginx {
		nginx.Addresses = append(nginx.Addresses, netip.MustParseAddr(a))
	}
	objs := source.Objects{
		Nodes:    []*source.Node{{Name: "node-1", Region: c.region, Zone: c.zone, Ready: true}},
		Services: []*source.Service{nginx},
		Endpoints: []*source.EndpointSlice{
			{Namespace: "default", Name: "nginx-abc", Service: "nginx", Ready: c.nginxReady, Total: 3},
		},
	}
	if c.web != "" {
		objs.Services = append(objs.Services, &source.Service{Namespace: "shop", Name: "web", Hostnames: []string{c.web},
			Ports: []source.Port{{Name: "https", Protocol: "tcp", Port: 443}}})
		objs.Endpoints = append(objs.Endpoints, &source.EndpointSlice{Namespace: "shop", Name: "web-1", Service: "web", Ready: 2, Total: 2})
	}
	return objs
}

// query builds a query, with a client-subnet option when subnet is set.
func query(name string, qtype uint16, subnet string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if subnet == "" {
		return m
	}
	m.SetEdns0(1232, false)
	o := m.IsEdns0()
	o.Option = append(o.Option, dnsmsg.Subnet(netip.MustParsePrefix(subnet)))
	return m
}

// assembled is the plugin of cfg with no sources: the tests feed its
// loop's sink by hand and call Rebuild. Rise and fall are 1, so that a
// signal counts at once, as the tests' expectations are written; the
// hysteresis itself is tested in package health and end to end.
func assembled(t testing.TB, cfg *Config, loc *geo.Locator) *Meridian {
	t.Helper()
	cfg.Build.Defaults.Probe.Rise, cfg.Build.Defaults.Probe.Fall = 1, 1
	m := &Meridian{cfg: cfg}
	if err := m.assemble(loc); err != nil {
		t.Fatal(err)
	}
	return m
}

package manifest_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/manifest"
)

// demoDir is the demo federation of testdata/demo/README.md.
var demoDir = filepath.Join("..", "..", "..", "testdata", "demo")

// demoCluster is one row of the address plan in testdata/demo/README.md.
type demoCluster struct {
	name, region string
	nginx, echo4 string
	echo6        string
	canary       bool // runs the weighted canary service
}

// gatewayClusters run the Gateway edge and the HTTPRoute api-v2.
var gatewayClusters = map[string]bool{"us-central1-a": true, "europe-west1-b": true, "asia-east1-a": true}

var demoPlan = []demoCluster{
	{"us-central1-a", "us-central1", "192.0.2.11", "192.0.2.21", "2001:db8:1::21", true},
	{"us-central1-b", "us-central1", "192.0.2.12", "192.0.2.22", "2001:db8:1::22", false},
	{"us-central1-c", "us-central1", "192.0.2.13", "192.0.2.23", "2001:db8:1::23", false},
	{"europe-west1-b", "europe-west1", "198.51.100.11", "198.51.100.21", "2001:db8:2::21", true},
	{"europe-west1-c", "europe-west1", "198.51.100.12", "198.51.100.22", "2001:db8:2::22", false},
	{"europe-west1-d", "europe-west1", "198.51.100.13", "198.51.100.23", "2001:db8:2::23", false},
	{"asia-east1-a", "asia-east1", "203.0.113.11", "203.0.113.21", "2001:db8:3::21", false},
	{"asia-east1-b", "asia-east1", "203.0.113.12", "203.0.113.22", "2001:db8:3::22", false},
	{"asia-east1-c", "asia-east1", "203.0.113.13", "203.0.113.23", "2001:db8:3::23", false},
}

// loadDemo runs a Source on dir until all nine clusters are up and returns
// the sink.
func loadDemo(t *testing.T, dir string) *fakeSink {
	t.Helper()
	sel, err := labels.Parse("federation.meridian.dev/name=myfederation") // the Corefile's default
	if err != nil {
		t.Fatal(err)
	}
	sink := start(t, dir, manifest.Options{Selector: sel})
	waitFor(t, 5*time.Second, "nine clusters up", func() bool {
		n := 0
		for _, e := range sink.snapshot() {
			if e.op == "state" {
				n++
			}
		}
		return n == len(demoPlan)
	})
	for _, e := range sink.snapshot() {
		if e.op == "error" {
			t.Errorf("cluster %s: %v", e.cluster, e.err)
		}
	}
	return sink
}

func TestDemo(t *testing.T) {
	sink := loadDemo(t, demoDir)
	for _, c := range demoPlan {
		t.Run(c.name, func(t *testing.T) {
			r, ok := sink.last("replace", c.name)
			if !ok {
				t.Fatal("not loaded")
			}
			checkDemoNodes(t, c, r.objs.Nodes)
			checkDemoServices(t, c, r.objs.Services)
			want := []*source.EndpointSlice{
				{Namespace: "default", Name: "api-demo", Service: "api", AddressType: "IPv4", Ready: 2, Total: 2},
				{Namespace: "default", Name: "nginx-demo", Service: "nginx", AddressType: "IPv4", Ready: 3, Total: 3},
				{Namespace: "default", Name: "echo-demo", Service: "echo", AddressType: "IPv4", Ready: 3, Total: 3},
				{Namespace: "shop", Name: "web-demo", Service: "web", AddressType: "IPv4", Ready: 3, Total: 3},
				{Namespace: "shop", Name: "storefront-demo", Service: "storefront", AddressType: "IPv4", Ready: 2, Total: 2},
				{Namespace: "shop", Name: "cart-demo", Service: "cart", AddressType: "IPv4", Ready: 2, Total: 2},
			}
			if gatewayClusters[c.name] {
				want = append(want, &source.EndpointSlice{Namespace: "default", Name: "api-v2-demo", Service: "api-v2", AddressType: "IPv4", Ready: 2, Total: 2})
			}
			if c.canary {
				want = slices.Insert(want, 1, &source.EndpointSlice{Namespace: "default", Name: "canary-demo", Service: "canary", AddressType: "IPv4", Ready: 1, Total: 1})
			}
			if !slices.EqualFunc(r.objs.Endpoints, want, func(a, b *source.EndpointSlice) bool { return *a == *b }) {
				t.Errorf("endpoint slices %+v, want %+v", r.objs.Endpoints, want)
			}
			// The storefront Ingress; its backends, not federated, are
			// ignored as Services.
			last := c.nginx[len(c.nginx)-1:]
			v4 := strings.TrimSuffix(c.nginx, "1"+last) + "5" + last
			v6 := strings.TrimSuffix(c.echo6, "2"+last) + "5" + last
			ingresses, ignored := 1, 2
			if gatewayClusters[c.name] {
				ingresses, ignored = 2, 3 // and the route's backend
			}
			if len(r.objs.Ingresses) != ingresses || r.objs.Ignored != ignored {
				t.Fatalf("%d ingresses, %d ignored objects; want %d and %d (the backends)", len(r.objs.Ingresses), r.objs.Ignored, ingresses, ignored)
			}
			in := r.objs.Ingresses[0]
			if in.Namespace != "shop" || in.Name != "storefront" || fmt.Sprint(in.Rules) != "[{shop.example.com. [cart storefront]} {*.shop.example.com. [storefront]}]" ||
				fmt.Sprint(in.Addresses) != fmt.Sprint([]netip.Addr{netip.MustParseAddr(v4), netip.MustParseAddr(v6)}) {
				t.Errorf("ingress %+v, want shop/storefront at %s and %s", in, v4, v6)
			}
			if ingresses == 2 {
				rt := r.objs.Ingresses[1]
				v4 := strings.TrimSuffix(c.nginx, "1"+last) + "6" + last
				v6 := strings.TrimSuffix(c.echo6, "2"+last) + "6" + last
				if rt.Kind != source.KindHTTPRoute || rt.Name != "api-v2" || rt.Detached || fmt.Sprint(rt.Rules) != "[{api.example.com. [api-v2]}]" ||
					fmt.Sprint(rt.Addresses) != fmt.Sprint([]netip.Addr{netip.MustParseAddr(v4), netip.MustParseAddr(v6)}) {
					t.Errorf("route %+v, want default/api-v2 at %s and %s", rt, v4, v6)
				}
			}
		})
	}
}

func checkDemoNodes(t *testing.T, c demoCluster, nodes []*source.Node) {
	t.Helper()
	if len(nodes) != 2 {
		t.Fatalf("%d nodes, want 2", len(nodes))
	}
	for i, n := range nodes {
		want := source.Node{Name: fmt.Sprintf("%s-node-%d", c.name, i+1), Region: c.region, Zone: c.name, Ready: true}
		if *n != want {
			t.Errorf("node %+v, want %+v", n, want)
		}
	}
}

func checkDemoServices(t *testing.T, c demoCluster, svcs []*source.Service) {
	t.Helper()
	type row struct {
		id    string
		addrs string
		hosts string
		ports string
	}
	var got []row
	for _, s := range svcs {
		got = append(got, row{s.Namespace + "/" + s.Name, fmt.Sprint(s.Addresses), fmt.Sprint(s.Hostnames), fmt.Sprint(s.Ports)})
		if s.Name == "api" && s.Annotations["meridian.dev/policy"] != "failover" {
			t.Errorf("api annotations %v, want the failover policy", s.Annotations)
		}
	}
	last := c.nginx[len(c.nginx)-1:]
	api := strings.TrimSuffix(c.nginx, "1"+last) + "3" + last
	want := []row{{"default/api", fmt.Sprint([]netip.Addr{netip.MustParseAddr(api)}), "[]", "[{http tcp 80}]"}}
	if c.canary {
		want = append(want, row{"default/canary", fmt.Sprint([]netip.Addr{netip.MustParseAddr(strings.TrimSuffix(c.nginx, "1"+last) + "4" + last)}), "[]", "[{http tcp 80}]"})
	}
	want = append(want, []row{
		{"default/nginx", fmt.Sprint([]netip.Addr{netip.MustParseAddr(c.nginx)}), "[]", "[{http tcp 80}]"},
		{"default/echo", fmt.Sprint([]netip.Addr{netip.MustParseAddr(c.echo4), netip.MustParseAddr(c.echo6)}), "[]",
			"[{http tcp 80} {dns udp 53}]"},
		{"shop/web", "[]", "[web-" + c.name + ".lb.example.net.]", "[{https tcp 443}]"},
	}...)
	if !slices.Equal(got, want) {
		t.Errorf("services\n%+v\nwant\n%+v", got, want)
	}
}

// TestDemoAsiaUnready follows the README: ready: false on the nginx
// endpoints of the asia-east1 clusters.
func TestDemoAsiaUnready(t *testing.T) {
	dir := t.TempDir()
	nginxSlice := regexp.MustCompile(`(?s)name: nginx-demo\n.*?(\n---|$)`)
	for _, c := range demoPlan {
		for _, f := range []string{"nodes.yaml", "services.yaml"} {
			data, err := os.ReadFile(filepath.Join(demoDir, c.name, f))
			if err != nil {
				t.Fatal(err)
			}
			if c.region == "asia-east1" && f == "services.yaml" {
				data = nginxSlice.ReplaceAllFunc(data, func(b []byte) []byte {
					return []byte(strings.ReplaceAll(string(b), "ready: true", "ready: false"))
				})
			}
			writeFiles(t, dir, map[string]string{c.name + "/" + f: string(data)})
		}
	}
	sink := loadDemo(t, dir)
	for _, c := range demoPlan {
		r, _ := sink.last("replace", c.name)
		for _, e := range r.objs.Endpoints {
			want := e.Total
			if c.region == "asia-east1" && e.Service == "nginx" {
				want = 0
			}
			if e.Ready != want || e.Total == 0 {
				t.Errorf("%s %s: ready %d of %d, want %d", c.name, e.Service, e.Ready, e.Total, want)
			}
		}
	}
}

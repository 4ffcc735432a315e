package model

import (
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// hostInput is one cluster in europe-west1 with the given Ingresses and
// EndpointSlices.
func hostInput(ings []*source.Ingress, eps ...*source.EndpointSlice) *Input {
	return &Input{State: health.Up, Objects: source.Objects{
		Nodes:     []*source.Node{{Name: "n", Region: "europe-west1", Zone: "europe-west1-b", Ready: true}},
		Ingresses: ings, Endpoints: eps}}
}

func ing(ns, name string, created int64, hs ...string) *source.Ingress {
	in := &source.Ingress{Kind: source.KindIngress, Namespace: ns, Name: name, Created: time.Unix(created, 0),
		Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	for _, h := range hs {
		in.Rules = append(in.Rules, source.Rule{Host: h, Services: []string{"web"}})
	}
	return in
}

func eps(ns, svc string, ready, total int) *source.EndpointSlice {
	return &source.EndpointSlice{Namespace: ns, Name: svc + "-x", Service: svc, AddressType: "IPv4", Ready: ready, Total: total}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestBuildHostNames checks where hosts land: exact hosts, wildcards by
// suffix, the empty non-terminals between them and the zone, hosts outside
// the zones, and the names refused as the federation's.
func TestBuildHostNames(t *testing.T) {
	in := Inputs{Clusters: map[string]*Input{"a": hostInput([]*source.Ingress{
		ing("shop", "web", 1, "shop.example.com.", "www.shop.example.com.", "*.api.example.com.", "a.b.c.example.com.", "shop.example.org."),
		ing("shop", "bad", 1, "example.com.", "*.example.com.", "x.svc.example.com.", "a.b.svc.example.com.",
			"europe-west1.example.com.", "a.europe-west1.example.com.", "*.europe-west1.example.com.", "a.b.europe-west1.example.com."),
	}, eps("shop", "web", 1, 1))}}
	snap := Build(in, nil, Options{Defaults: policy.Default(), Zones: []string{"example.com."}}).Snapshot
	if got, want := keys(snap.Hosts), []string{"a.b.c.example.com.", "a.b.europe-west1.example.com.", "shop.example.com.", "www.shop.example.com."}; !slices.Equal(got, want) {
		t.Errorf("hosts %q, want %q", got, want)
	}
	if got, want := keys(snap.Wildcards), []string{"api.example.com."}; !slices.Equal(got, want) {
		t.Errorf("wildcards %q, want %q", got, want)
	}
	if got, want := keys(snap.HostNodes), []string{"api.example.com.", "b.c.example.com.", "b.europe-west1.example.com.", "c.example.com.",
		"europe-west1.example.com.", "shop.example.com."}; !slices.Equal(got, want) {
		t.Errorf("host nodes %q, want %q", got, want)
	}
	if snap.Outside != 1 {
		t.Errorf("%d hosts outside the zones, want 1", snap.Outside)
	}
	want := map[string]Why{"example.com.": FederationName, "*.example.com.": FederationName, "x.svc.example.com.": FederationName,
		"a.b.svc.example.com.": FederationName, "europe-west1.example.com.": RegionName, "a.europe-west1.example.com.": RegionName,
		"*.europe-west1.example.com.": RegionName}
	got := map[string]Why{}
	for _, c := range snap.Conflicts {
		got[c.Host] = c.Why
		if c.Claim.Namespace != "shop" || c.Claim.Name != "bad" || c.Claim.Cluster != "a" || c.Claim.Kind != source.KindIngress {
			t.Errorf("conflict %+v: wrong claim", c)
		}
	}
	if len(got) != len(want) {
		t.Errorf("conflicts %v, want %v", got, want)
	}
	for h, w := range want {
		if got[h] != w {
			t.Errorf("conflict of %s: %v, want %v", h, got[h], w)
		}
	}
	h := snap.Hosts["shop.example.com."]
	if h.Host != "shop.example.com." || h.Key != (Key{"shop", "web"}) || len(h.Shards) != 1 || !h.Shards[0].Usable {
		t.Errorf("shop.example.com.: %+v", h)
	}
	if h := snap.Wildcards["api.example.com."]; h.Host != "*.api.example.com." {
		t.Errorf("wildcard's host %q", h.Host)
	}
}

// TestBuildHostOwners checks who owns a host claimed by several objects:
// the oldest claim's namespace/name in any cluster, its claims one per
// cluster, the Corefile's rules, and what is reported.
func TestBuildHostOwners(t *testing.T) {
	const host = "shop.example.com."
	type conflict struct {
		cluster, ns string
		why         Why
	}
	for _, tc := range []struct {
		name     string
		clusters map[string][]*source.Ingress
		rules    []hosts.Rule
		owner    Key
		shards   []string
		refused  []conflict
	}{
		{name: "one owner in two clusters",
			clusters: map[string][]*source.Ingress{"a": {ing("shop", "web", 5, host)}, "b": {ing("shop", "web", 9, host)}},
			owner:    Key{"shop", "web"}, shards: []string{"a", "b"}},
		{name: "the oldest claim in any cluster wins",
			clusters: map[string][]*source.Ingress{"a": {ing("shop", "web", 5, host)}, "b": {ing("evil", "web", 3, host)}, "c": {ing("shop", "web", 1, host)}},
			owner:    Key{"shop", "web"}, shards: []string{"a", "c"}, refused: []conflict{{"b", "evil", Taken}}},
		{name: "equal times: namespace then name",
			clusters: map[string][]*source.Ingress{"a": {ing("b", "web", 5, host)}, "b": {ing("a", "z", 5, host), ing("a", "y", 5, host)}},
			owner:    Key{"a", "y"}, shards: []string{"b"}, refused: []conflict{{"a", "b", Taken}, {"b", "a", Taken}}},
		{name: "an Ingress and a route of one name in one cluster",
			clusters: map[string][]*source.Ingress{"a": {ing("shop", "web", 5, host), func() *source.Ingress {
				r := ing("shop", "web", 4, host)
				r.Kind = source.KindHTTPRoute
				return r
			}()}},
			owner: Key{"shop", "web"}, shards: []string{"a"}, refused: []conflict{{"a", "shop", Duplicate}}},
		{name: "rules: the namespace may not claim it",
			clusters: map[string][]*source.Ingress{"a": {ing("evil", "web", 1, host)}, "b": {ing("shop", "web", 5, host)}},
			rules:    []hosts.Rule{{Suffix: "example.com.", Namespaces: []string{"platform"}}, {Suffix: "shop.example.com.", Namespaces: []string{"shop"}}},
			owner:    Key{"shop", "web"}, shards: []string{"b"}, refused: []conflict{{"a", "evil", NotAllowed}}},
		{name: "rules: nobody may",
			clusters: map[string][]*source.Ingress{"a": {ing("shop", "web", 1, host)}},
			rules:    []hosts.Rule{{Suffix: "example.com.", Namespaces: []string{"platform"}}},
			refused:  []conflict{{"a", "shop", NotAllowed}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Inputs{Clusters: map[string]*Input{}}
			for c, ings := range tc.clusters {
				in.Clusters[c] = hostInput(ings, eps("shop", "web", 1, 1))
			}
			snap := Build(in, nil, Options{Defaults: policy.Default(), Zones: []string{"example.com."}, HostRules: tc.rules}).Snapshot
			h := snap.Hosts[host]
			var got []string
			if h != nil {
				for _, sh := range h.Shards {
					got = append(got, sh.Cluster.Name)
				}
				if h.Key != tc.owner {
					t.Errorf("owner %v, want %v", h.Key, tc.owner)
				}
			}
			if !slices.Equal(got, tc.shards) {
				t.Errorf("shards in %q, want %q", got, tc.shards)
			}
			var refused []conflict
			for _, c := range snap.Conflicts {
				refused = append(refused, conflict{c.Claim.Cluster, c.Claim.Namespace, c.Why})
				if (c.Why == Taken || c.Why == Duplicate) && c.Owner != tc.owner {
					t.Errorf("conflict %+v names owner %v, want %v", c, c.Owner, tc.owner)
				}
			}
			if !slices.Equal(refused, tc.refused) {
				t.Errorf("refused %v, want %v", refused, tc.refused)
			}
		})
	}
}

// TestBuildHostHealth checks when a host shard is usable, for every
// combination of its backends' readiness, the backends setting, a
// detached route and a missing address.
func TestBuildHostHealth(t *testing.T) {
	for _, tc := range []struct {
		name      string
		backends  []string // the rule's Services
		ready     map[string]int
		ann       map[string]string
		detached  bool
		noAddress bool
		usable    bool
		readySum  int
		degraded  bool
		counts    []Counts
	}{
		{name: "every backend ready", backends: []string{"a", "b"}, ready: map[string]int{"a": 2, "b": 2}, usable: true, readySum: 4,
			counts: []Counts{{2, 2}, {2, 2}}},
		{name: "one backend down", backends: []string{"a", "b"}, ready: map[string]int{"a": 2, "b": 0}, readySum: 2, counts: []Counts{{2, 2}, {0, 2}}},
		{name: "one backend missing", backends: []string{"a", "b"}, ready: map[string]int{"a": 2}, readySum: 2, counts: []Counts{{2, 2}, {0, 0}}},
		{name: "any: one backend down", backends: []string{"a", "b"}, ready: map[string]int{"a": 2, "b": 0},
			ann: map[string]string{policy.AnnBackends: "any"}, usable: true, readySum: 2, degraded: true, counts: []Counts{{2, 2}, {0, 2}}},
		{name: "any: every backend down", backends: []string{"a", "b"}, ready: map[string]int{"a": 0, "b": 0},
			ann: map[string]string{policy.AnnBackends: "any"}, counts: []Counts{{0, 2}, {0, 2}}},
		{name: "min-ready 2 on each", backends: []string{"a", "b"}, ready: map[string]int{"a": 2, "b": 1},
			ann: map[string]string{policy.AnnMinReady: "2"}, readySum: 3, counts: []Counts{{2, 2}, {1, 2}}},
		{name: "min-ready-fraction on each", backends: []string{"a", "b"}, ready: map[string]int{"a": 2, "b": 1},
			ann: map[string]string{policy.AnnMinReadyFraction: "50%"}, usable: true, readySum: 3, degraded: true, counts: []Counts{{2, 2}, {1, 2}}},
		{name: "no backend Service", usable: true},
		{name: "detached route", backends: []string{"a"}, ready: map[string]int{"a": 2}, detached: true, readySum: 2, counts: []Counts{{2, 2}}},
		{name: "no address", backends: []string{"a"}, ready: map[string]int{"a": 2}, noAddress: true, readySum: 2, counts: []Counts{{2, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ing("shop", "web", 1, "shop.example.com.")
			in.Rules[0].Services, in.Annotations, in.Detached = tc.backends, tc.ann, tc.detached
			if tc.noAddress {
				in.Addresses = nil
			}
			var slices []*source.EndpointSlice
			for svc, n := range tc.ready {
				slices = append(slices, eps("shop", svc, n, 2))
			}
			snap := Build(Inputs{Clusters: map[string]*Input{"a": hostInput([]*source.Ingress{in}, slices...)}}, nil,
				Options{Defaults: policy.Default(), Zones: []string{"example.com."}}).Snapshot
			sh := snap.Hosts["shop.example.com."].Shards[0]
			if sh.Usable != tc.usable || sh.Ready != tc.readySum || sh.Degraded != tc.degraded || !slicesEqual(sh.Backends(), tc.counts) {
				t.Errorf("usable %v, ready %d, degraded %v, backends %v; want %v, %d, %v, %v",
					sh.Usable, sh.Ready, sh.Degraded, sh.Backends(), tc.usable, tc.readySum, tc.degraded, tc.counts)
			}
		})
	}
}

func slicesEqual(a, b []Counts) bool { return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b)) }

// TestBuildHostProbe checks a host's probe targets: port 80 for http and
// 443 for https, the host (or for a wildcard a name it routes) as the Host
// header, and the host name in the health key, apart from a Service of
// the same namespace and name.
func TestBuildHostProbe(t *testing.T) {
	for _, tc := range []struct {
		host, check, port string
		wantPort          uint16
		wantHost          string
	}{
		{host: "shop.example.com.", check: "https", wantPort: 443, wantHost: "shop.example.com"},
		{host: "shop.example.com.", check: "http", wantPort: 80, wantHost: "shop.example.com"},
		{host: "shop.example.com.", check: "tcp", port: "8443", wantPort: 8443, wantHost: "shop.example.com"},
		{host: "*.shop.example.com.", check: "http", wantPort: 80, wantHost: "meridian-probe.shop.example.com"},
	} {
		in := ing("shop", "web", 1, tc.host)
		in.Annotations = map[string]string{policy.AnnProbe: tc.check}
		if tc.port != "" {
			in.Annotations[policy.AnnProbePort] = tc.port
		}
		svc := &source.Service{Namespace: "shop", Name: "web", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.9")},
			Ports: []source.Port{{Protocol: "tcp", Port: 8080}}, Annotations: map[string]string{policy.AnnProbe: "tcp"}}
		ci := hostInput([]*source.Ingress{in}, eps("shop", "web", 1, 1))
		ci.Objects.Services = []*source.Service{svc}
		b := Build(Inputs{Clusters: map[string]*Input{"a": ci}}, nil, Options{Defaults: policy.Default(), Zones: []string{"example.com."}})
		if len(b.Probes) != 2 {
			t.Fatalf("%s %s: %d probe targets, want the Service's and the host's", tc.host, tc.check, len(b.Probes))
		}
		svcT, hostT := b.Probes[0], b.Probes[1]
		if svcT.Key.Name != "web" || svcT.Addr.Port() != 8080 || svcT.Spec.Host != "" {
			t.Errorf("the Service's target: %+v", svcT)
		}
		if hostT.Key != (health.Key{Cluster: "a", Namespace: "shop", Name: tc.host}) || hostT.Addr.Port() != tc.wantPort || hostT.Spec.Host != tc.wantHost {
			t.Errorf("%s %s: target %v port %d Host %q, want port %d Host %q", tc.host, tc.check, hostT.Key, hostT.Addr.Port(), hostT.Spec.Host, tc.wantPort, tc.wantHost)
		}
	}
}

package model

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
)

// fakeHealth is Verdicts with fixed verdicts that records what it was asked.
type fakeHealth struct {
	passive   map[health.Key]bool // stable passive state; missing: the raw signal
	pending   map[health.Key]bool
	probeDown map[netip.AddrPort]bool
	hostDown  map[string]bool
	asked     []int // rise, fall of the last Passive call
}

func (f *fakeHealth) Passive(k health.Key, _ health.Handle, ok bool, rise, fall int) health.Observation {
	f.asked = []int{rise, fall}
	if up, set := f.passive[k]; set {
		return health.Observed(k, up, f.pending[k])
	}
	return health.Observed(k, ok, f.pending[k])
}

func (f *fakeHealth) Probe(t health.TargetKey) bool {
	if t.Host != "" {
		return !f.hostDown[t.Host]
	}
	return !f.probeDown[t.Addr]
}

func TestJudge(t *testing.T) {
	web := func(ann map[string]string, addrs ...string) *source.Service {
		s := &source.Service{Namespace: "ns", Name: "web", Annotations: ann,
			Ports: []source.Port{{Name: "dns", Protocol: "udp", Port: 53}, {Name: "http", Protocol: "tcp", Port: 80}, {Name: "admin", Protocol: "tcp", Port: 9000}}}
		for _, a := range addrs {
			s.Addresses = append(s.Addresses, netip.MustParseAddr(a))
		}
		return s
	}
	eps := func(ready, total int) []*source.EndpointSlice {
		return []*source.EndpointSlice{{Namespace: "ns", Service: "web", AddressType: "IPv4", Ready: ready, Total: total}}
	}
	tcp := map[string]string{policy.AnnProbe: "tcp"}
	key := health.Key{Cluster: "c", Namespace: "ns", Name: "web"}
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

	tests := []struct {
		name         string
		svc          *source.Service
		eps          []*source.EndpointSlice
		defaults     policy.Policy
		h            *fakeHealth
		wantUsable   bool
		wantDegraded bool
		wantSvcDeg   bool
		wantV4       []string
		wantProbes   []string // probed addresses
		wantProblem  string   // annotation of the one problem expected
	}{
		{name: "all ready", svc: web(nil, "127.0.0.1"), eps: eps(3, 3), wantUsable: true, wantV4: []string{"127.0.0.1"}},
		{name: "some not ready: degraded", svc: web(nil, "127.0.0.1"), eps: eps(2, 3), wantUsable: true, wantDegraded: true, wantV4: []string{"127.0.0.1"}},
		{name: "below fraction", svc: web(map[string]string{policy.AnnMinReadyFraction: "70%"}, "127.0.0.1"), eps: eps(2, 3), wantSvcDeg: true, wantV4: []string{"127.0.0.1"}},
		{name: "at fraction", svc: web(map[string]string{policy.AnnMinReadyFraction: "0.6"}, "127.0.0.1"), eps: eps(3, 5), wantUsable: true, wantDegraded: true, wantV4: []string{"127.0.0.1"}},
		{name: "fraction from the defaults", svc: web(nil, "127.0.0.1"), eps: eps(1, 4), defaults: policy.Policy{MinReadyFraction: 0.5}, wantSvcDeg: true, wantV4: []string{"127.0.0.1"}},
		{name: "min ready annotation", svc: web(map[string]string{policy.AnnMinReady: "4"}, "127.0.0.1"), eps: eps(3, 3), wantSvcDeg: true, wantV4: []string{"127.0.0.1"}},
		{name: "passive hysteresis holds up", svc: web(nil, "127.0.0.1"), eps: eps(0, 3),
			h: &fakeHealth{passive: map[health.Key]bool{key: true}, pending: map[health.Key]bool{key: true}}, wantUsable: true, wantDegraded: true, wantV4: []string{"127.0.0.1"}},
		{name: "passive hysteresis holds down", svc: web(nil, "127.0.0.1"), eps: eps(3, 3),
			h: &fakeHealth{passive: map[health.Key]bool{key: false}, pending: map[health.Key]bool{key: true}}, wantSvcDeg: true, wantV4: []string{"127.0.0.1"}},
		{name: "probe up on the first TCP port", svc: web(tcp, "127.0.0.1", "::1"), eps: eps(3, 3), h: &fakeHealth{},
			wantUsable: true, wantV4: []string{"127.0.0.1"}, wantProbes: []string{"127.0.0.1:80", "[::1]:80"}},
		{name: "probe down on every address", svc: web(tcp, "127.0.0.1"), eps: eps(3, 3),
			h: &fakeHealth{probeDown: map[netip.AddrPort]bool{ap("127.0.0.1:80"): true}}, wantSvcDeg: true, wantV4: []string{"127.0.0.1"}, wantProbes: []string{"127.0.0.1:80"}},
		{name: "probe down on one address leaves it out", svc: web(tcp, "127.0.0.1", "127.0.0.2"), eps: eps(3, 3),
			h: &fakeHealth{probeDown: map[netip.AddrPort]bool{ap("127.0.0.1:80"): true}}, wantUsable: true, wantV4: []string{"127.0.0.2"}, wantProbes: []string{"127.0.0.1:80", "127.0.0.2:80"}},
		{name: "probe port by name", svc: web(map[string]string{policy.AnnProbe: "http", policy.AnnProbePort: "admin"}, "127.0.0.1"), eps: eps(1, 1), h: &fakeHealth{},
			wantUsable: true, wantV4: []string{"127.0.0.1"}, wantProbes: []string{"127.0.0.1:9000"}},
		{name: "probe port by number", svc: web(map[string]string{policy.AnnProbe: "tcp", policy.AnnProbePort: "8443"}, "127.0.0.1"), eps: eps(1, 1), h: &fakeHealth{},
			wantUsable: true, wantV4: []string{"127.0.0.1"}, wantProbes: []string{"127.0.0.1:8443"}},
		{name: "probe port name missing: not probed, reported", svc: web(map[string]string{policy.AnnProbe: "tcp", policy.AnnProbePort: "nope"}, "127.0.0.1"), eps: eps(1, 1), h: &fakeHealth{},
			wantUsable: true, wantV4: []string{"127.0.0.1"}, wantProblem: policy.AnnProbePort},
		{name: "probe from the defaults", svc: web(nil, "127.0.0.1"), eps: eps(1, 1), defaults: policy.Policy{Probe: health.Spec{Check: health.TCP, Port: 81, Rise: 1, Fall: 1, Interval: time.Second, Timeout: time.Second, ExpectLow: 200, ExpectHigh: 399}}, h: &fakeHealth{},
			wantUsable: true, wantV4: []string{"127.0.0.1"}, wantProbes: []string{"127.0.0.1:81"}},
		{name: "bad annotation keeps the default", svc: web(map[string]string{policy.AnnMinReady: "lots"}, "127.0.0.1"), eps: eps(1, 1),
			wantUsable: true, wantV4: []string{"127.0.0.1"}, wantProblem: policy.AnnMinReady},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := policy.Default()
			if tc.defaults.MinReadyFraction != 0 {
				def.MinReadyFraction = tc.defaults.MinReadyFraction
			}
			if tc.defaults.Probe.Check != health.None {
				def.Probe = tc.defaults.Probe
			}
			opts := Options{Defaults: def}
			var v Verdicts
			if tc.h != nil {
				v = tc.h
			}
			in := map[string]*Input{"c": {Objects: source.Objects{Services: []*source.Service{tc.svc}, Endpoints: tc.eps}}}
			built := Build(Inputs{Clusters: in, Serial: 1, Now: time.Unix(1, 0)}, v, opts)
			snap := built.Snapshot
			svc := snap.Services[Key{"ns", "web"}]
			sh := svc.Shards[0]
			if sh.Usable != tc.wantUsable || sh.Degraded != tc.wantDegraded || svc.Degraded != tc.wantSvcDeg {
				t.Errorf("usable %v degraded %v service degraded %v, want %v %v %v", sh.Usable, sh.Degraded, svc.Degraded, tc.wantUsable, tc.wantDegraded, tc.wantSvcDeg)
			}
			if got := addrStrings(sh.V4); !slices.Equal(got, tc.wantV4) || len(sh.IP4) != len(sh.V4) {
				t.Errorf("v4 %v (ip4 %d), want %v", got, len(sh.IP4), tc.wantV4)
			}
			var probed []string
			for _, p := range built.Probes {
				probed = append(probed, p.Addr.String())
				if p.Key != key || p.Spec.Port != p.Addr.Port() {
					t.Errorf("target %+v: wrong key or port", p)
				}
			}
			if !slices.Equal(probed, tc.wantProbes) || sh.Probed != (len(tc.wantProbes) > 0) {
				t.Errorf("probed %v (shard probed %v), want %v", probed, sh.Probed, tc.wantProbes)
			}
			switch {
			case tc.wantProblem == "" && len(svc.Problems) > 0:
				t.Errorf("unexpected problems %+v", svc.Problems)
			case tc.wantProblem != "" && (len(svc.Problems) != 1 || svc.Problems[0].Annotation != tc.wantProblem || !errors.Is(svc.Problems[0].Err, policy.ErrValue)):
				t.Errorf("problems %+v, want one on %s", svc.Problems, tc.wantProblem)
			}
		})
	}
}

func TestJudgeHostnameProbeAndThresholds(t *testing.T) {
	svc := &source.Service{Namespace: "ns", Name: "web", Hostnames: []string{"lb.example."},
		Ports:       []source.Port{{Protocol: "tcp", Port: 443}},
		Annotations: map[string]string{policy.AnnProbe: "https", policy.AnnRise: "4", policy.AnnFall: "5"}}
	h := &fakeHealth{hostDown: map[string]bool{"lb.example.": true}}
	in := map[string]*Input{"c": {Objects: source.Objects{Services: []*source.Service{svc},
		Endpoints: []*source.EndpointSlice{{Namespace: "ns", Service: "web", Ready: 1, Total: 1}}}}}
	built := Build(Inputs{Clusters: in, Serial: 1, Now: time.Unix(1, 0)}, h, Options{Defaults: policy.Default()})
	sh := built.Snapshot.Services[Key{"ns", "web"}].Shards[0]
	if sh.Usable || !sh.Probed || sh.ProbeUp {
		t.Errorf("usable %v probed %v probe up %v, want false true false", sh.Usable, sh.Probed, sh.ProbeUp)
	}
	if p := built.Probes; len(p) != 1 || p[0].Host != "lb.example." || p[0].Port != 443 || p[0].Spec.Check != health.HTTPS {
		t.Errorf("probes %+v, want one HTTPS target lb.example.:443", p)
	}
	if len(h.asked) != 2 || h.asked[0] != 4 || h.asked[1] != 5 {
		t.Errorf("passive asked with rise/fall %v, want [4 5]", h.asked)
	}
}

func TestJudgeConflictingAnnotations(t *testing.T) {
	svc := func(p string) *source.Service {
		return &source.Service{Namespace: "ns", Name: "web", Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
			Annotations: map[string]string{policy.AnnPolicy: p}}
	}
	ep := []*source.EndpointSlice{{Namespace: "ns", Service: "web", Ready: 1, Total: 1}}
	in := map[string]*Input{
		"b": {Objects: source.Objects{Services: []*source.Service{svc("closest")}, Endpoints: ep}},
		"a": {Objects: source.Objects{Services: []*source.Service{svc("roundrobin")}, Endpoints: ep}},
	}
	s := build(in, Options{Defaults: policy.Default()}).Services[Key{"ns", "web"}]
	if s.Policy.Kind != policy.RoundRobin {
		t.Errorf("policy %v, want roundrobin (cluster a comes first)", s.Policy.Kind)
	}
	if len(s.Problems) != 1 || !errors.Is(s.Problems[0].Err, policy.ErrConflict) {
		t.Errorf("problems %+v, want one conflict", s.Problems)
	}
}

func addrStrings(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// TestJudgeClusterIPs: with ClusterIPs kept, a shard with only cluster IPs
// is judged healthy or not for the resolver, but never usable in the
// authoritative answer, and does not make the service degraded.
func TestJudgeClusterIPs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		keep        bool
		ready       int
		wantIPs     int
		wantHealthy bool
	}{
		{"kept, ready", true, 2, 1, true},
		{"kept, not ready", true, 0, 1, false},
		{"not kept", false, 2, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &source.Service{Namespace: "ns", Name: "web", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.10")}}
			in := map[string]*Input{"c": {Objects: source.Objects{Services: []*source.Service{svc},
				Endpoints: []*source.EndpointSlice{{Namespace: "ns", Service: "web", Ready: tc.ready, Total: 2}}}}}
			s := build(in, Options{Defaults: policy.Default(), ClusterIPs: tc.keep}).Services[Key{"ns", "web"}]
			sh := s.Shards[0]
			if len(sh.ClusterIPs) != tc.wantIPs || sh.Healthy != tc.wantHealthy || sh.Usable || s.Degraded {
				t.Errorf("cluster IPs %v healthy %v usable %v degraded %v, want %d IPs healthy %v, not usable, not degraded",
					sh.ClusterIPs, sh.Healthy, sh.Usable, s.Degraded, tc.wantIPs, tc.wantHealthy)
			}
		})
	}
}

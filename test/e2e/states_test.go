package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// The demo federation's places and the clients located in each region
// (testdata/geoip/README.md).
var (
	demoRegions = []string{"us-central1", "europe-west1", "asia-east1"}
	demoZones   = map[string][]string{
		"us-central1":  {"us-central1-a", "us-central1-b", "us-central1-c"},
		"europe-west1": {"europe-west1-b", "europe-west1-c", "europe-west1-d"},
		"asia-east1":   {"asia-east1-a", "asia-east1-b", "asia-east1-c"},
	}
	demoClients = []string{"27.0.0.0/24", "24.0.0.0/24", "81.0.0.0/24"} // Taipei, Chicago, Paris
)

// demoService is a federated Service of the demo and its named ports as
// SRV labels ("_http._tcp").
type demoService struct {
	name, namespace string
	ports           []string
}

// stateServices are the demo's Services whose answers are a function of
// the client and the state. canary is left out: its weighted policy draws
// a shard per query, so two askings of the same question may differ.
var stateServices = []demoService{
	{"nginx", "default", []string{"_http._tcp"}},
	{"echo", "default", []string{"_http._tcp", "_dns._udp"}},
	{"web", "shop", []string{"_https._tcp"}},
	{"api", "default", []string{"_http._tcp"}},
}

// svcName is the name of s at a level: "" for the global name,
// "<region>." or "<zone>.<region>.".
func svcName(s demoService, level string) string {
	return fmt.Sprintf("%s.%s.myfederation.svc.%sexample.com.", s.name, s.namespace, level)
}

// demoLevels are every level of the demo: global, each region, each zone.
func demoLevels() []string {
	levels := []string{""}
	for _, r := range demoRegions {
		levels = append(levels, r+".")
	}
	for _, r := range demoRegions {
		for _, z := range demoZones[r] {
			levels = append(levels, z+"."+r+".")
		}
	}
	return levels
}

// demoState is one health state of the demo federation: edits to the
// server's copy of the demo, and the answers that show the server serves
// all of them.
type demoState struct {
	name  string
	edits []demoEdit
	// applied reports whether the server answers from the edited state;
	// it must not hold while any edit is still unseen.
	applied func(s *server) bool
}

// demoEdit is one editDemo call.
type demoEdit struct{ cluster, marker, old, new string }

// demoStates are the states the resolver-facing tests run through.
func demoStates() []demoState {
	var noV6, fallen, lbEcho, failOpen []demoEdit
	for i, c := range demoZones["us-central1"] {
		v6 := fmt.Sprintf("- ip: 2001:db8:1::2%d", i+1)
		noV6 = append(noV6, demoEdit{c, v6, "\n      " + v6, ""})
	}
	for _, c := range slices.Concat(demoZones["asia-east1"], []string{"us-central1-b"}) {
		fallen = append(fallen, demoEdit{c, "name: nginx-demo", "ready: true", "ready: false"})
	}
	for i, c := range demoZones["asia-east1"] {
		v4, v6 := fmt.Sprintf("- ip: 203.0.113.2%d", i+1), fmt.Sprintf("- ip: 2001:db8:3::2%d", i+1)
		lbEcho = append(lbEcho, demoEdit{c, v4, v4 + "\n      " + v6, "- hostname: echo-" + c + ".lb.example.net"})
	}
	for _, r := range demoRegions {
		for _, c := range demoZones[r] {
			failOpen = append(failOpen,
				demoEdit{c, "name: nginx-demo", "ready: true", "ready: false"},
				demoEdit{c, "name: web-demo", "ready: true", "ready: false"})
		}
	}
	var hostsGone []demoEdit // the Asian shards of shop.example.com and api.example.com
	for _, c := range demoZones["asia-east1"] {
		hostsGone = append(hostsGone, demoEdit{c, "name: cart-demo", "ready: true", "ready: false"})
	}
	hostsGone = append(hostsGone, demoEdit{"asia-east1-a", "kind: HTTPRoute", `{type: Accepted, status: "True"`, `{type: Accepted, status: "False"`})
	echo, nginx, web := stateServices[1], stateServices[0], stateServices[2]
	return []demoState{
		{"all healthy", nil, func(s *server) bool {
			return hasAddrs(s, svcName(nginx, ""), dns.TypeA, "203.0.113.", 1)
		}},
		{"echo without IPv6 in us-central1", noV6, func(s *server) bool {
			return noAddrs(s, svcName(echo, "us-central1."), dns.TypeAAAA, "2001:db8:1::")
		}},
		{"nginx fallen back in asia-east1 and us-central1-b", fallen, func(s *server) bool {
			return startsWithCNAME(s, svcName(nginx, "asia-east1.")) &&
				startsWithCNAME(s, svcName(nginx, "us-central1-b.us-central1."))
		}},
		{"echo behind load-balancer hostnames in asia-east1", lbEcho, func(s *server) bool {
			return noAddrs(s, svcName(echo, "asia-east1."), dns.TypeA, "203.0.113.")
		}},
		{"shop's and api's hosts leave asia-east1", hostsGone, func(s *server) bool {
			return noAddrs(s, "shop.example.com.", dns.TypeA, "203.0.113.") && noAddrs(s, "api.example.com.", dns.TypeA, "203.0.113.") &&
				hasAddrs(s, "eu.shop.example.com.", dns.TypeA, "203.0.113.", 1) // storefront alone: still ready
		}},
		{"nginx and web fail open", failOpen, func(s *server) bool {
			return hasAddrs(s, svcName(nginx, ""), dns.TypeA, "", 9) &&
				startsWithCNAME(s, svcName(web, "us-central1.")) &&
				startsWithCNAME(s, svcName(web, "europe-west1.")) &&
				startsWithCNAME(s, svcName(web, "asia-east1."))
		}},
	}
}

// startState starts meridian on a fresh copy of the demo, applies st's
// edits and waits until the server answers from them.
func startState(t *testing.T, st demoState) *server {
	t.Helper()
	s := startDemo(t)
	for _, e := range st.edits {
		s.editDemo(t, e.cluster, e.marker, e.old, e.new)
	}
	e2eutil.Eventually(t, 15*time.Second, "state "+st.name+" applied", func() bool { return st.applied(s) })
	return s
}

// askDirect asks the server itself (no resolver in between) from Taipei;
// nil when it does not answer.
func askDirect(s *server, name string, qtype uint16) *dns.Msg {
	r, err := e2eutil.ExchangeECS(s.DNS, name, qtype, demoClients[0])
	if err != nil {
		return nil
	}
	return r
}

// hasAddrs reports whether name/qtype answers n addresses (n > 0), all
// starting with prefix.
func hasAddrs(s *server, name string, qtype uint16, prefix string, n int) bool {
	r := askDirect(s, name, qtype)
	if r == nil {
		return false
	}
	got := e2eutil.Addrs(r)
	return len(got) == n && e2eutil.InRange(got, prefix)
}

// noAddrs reports whether name/qtype answers NOERROR with no address
// starting with prefix.
func noAddrs(s *server, name string, qtype uint16, prefix string) bool {
	r := askDirect(s, name, qtype)
	if r == nil || r.Rcode != dns.RcodeSuccess {
		return false
	}
	for _, a := range e2eutil.Addrs(r) {
		if strings.HasPrefix(a, prefix) {
			return false
		}
	}
	return true
}

// startsWithCNAME reports whether name's A answer starts with a CNAME at
// name: the level has fallen back.
func startsWithCNAME(s *server, name string) bool {
	r := askDirect(s, name, dns.TypeA)
	if r == nil || len(r.Answer) == 0 {
		return false
	}
	c, ok := r.Answer[0].(*dns.CNAME)
	return ok && strings.EqualFold(c.Hdr.Name, name)
}

// snapshot asks the server itself every question, four at a time, and
// returns its replies.
func (s *server) snapshot(t *testing.T, qs []question) map[question]*dns.Msg {
	t.Helper()
	type result struct {
		q   question
		r   *dns.Msg
		err error
	}
	work, results := make(chan question), make(chan result)
	for range 4 {
		go func() {
			for q := range work {
				r, err := e2eutil.ExchangeECS(s.DNS, q.name, q.qtype, q.client)
				results <- result{q, r, err}
			}
		}()
	}
	go func() {
		for _, q := range qs {
			work <- q
		}
		close(work)
	}()
	out := make(map[question]*dns.Msg, len(qs))
	var firstErr error
	for range qs {
		res := <-results
		if res.err != nil && firstErr == nil {
			firstErr = res.err
		}
		out[res.q] = res.r
	}
	if firstErr != nil {
		t.Fatalf("asking the authority directly: %v", firstErr)
	}
	return out
}

// question is one query: name and type, asked with the client subnet.
type question struct {
	name   string
	qtype  uint16
	client string
}

// String is the question as the test reports it.
func (q question) String() string {
	return fmt.Sprintf("%s %s from %s", q.name, dns.Type(q.qtype), clientName(q.client))
}

// clientName is a client subnet as the test reports it.
func clientName(subnet string) string {
	if subnet == "" {
		return "127.0.0.1 (no ECS)"
	}
	return subnet
}

// stateHosts are the demo's hosts of Ingresses and routes and a name its
// wildcard answers; every type is asked at each.
var stateHosts = []string{"shop.example.com.", "eu.shop.example.com.", "api.example.com."}

// stateNames are every service name of stateServices at every level, each
// followed by its SRV names, then stateHosts; full tells whether every
// type is asked at the name (fullLevels and the hosts).
func stateNames() (names []string, full map[string]bool) {
	full = map[string]bool{}
	defer func() {
		for _, h := range stateHosts {
			names = append(names, h)
			full[h] = true
		}
	}()
	for _, svc := range stateServices {
		for _, level := range demoLevels() {
			name := svcName(svc, level)
			group := []string{name}
			for _, p := range svc.ports {
				group = append(group, p+"."+name)
			}
			names = append(names, group...)
			if slices.Contains(fullLevels, level) {
				for _, n := range group {
					full[n] = true
				}
			}
		}
	}
	return names, full
}

// stateQuestions are every name of stateNames asked every type of types
// by every client of demoClients and by one with no ECS (located by its
// address, 127.0.0.1, which GeoIP cannot place).
func stateQuestions(types []uint16) []question {
	names, _ := stateNames()
	var qs []question
	for _, c := range append(slices.Clone(demoClients), "") {
		for _, n := range names {
			for _, qt := range types {
				qs = append(qs, question{n, qt, c})
			}
		}
	}
	return qs
}

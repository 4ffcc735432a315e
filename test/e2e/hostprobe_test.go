package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// hostTarget is an HTTPS ingress on one loopback address: it answers 200
// or 500 and records the Host header and TLS server name of the probes.
type hostTarget struct {
	srv      *httptest.Server
	fail     atomic.Bool
	mu       sync.Mutex
	host     string // the last probe's Host header
	sni      string // and its TLS server name
	requests atomic.Int64
}

func newHostTarget(t *testing.T, addr string) *hostTarget {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	h := &hostTarget{}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.host, h.sni = r.Host, r.TLS.ServerName
		h.mu.Unlock()
		h.requests.Add(1)
		if h.fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	h.srv.Listener = ln
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostTarget) seen() (host, sni string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.host, h.sni
}

// TestHostProbe runs the real binary with an HTTPS probe of an Ingress
// host: the probes ask for the host itself (Host header and TLS server
// name), and a failing ingress takes its cluster out of the host's
// answers until it passes again.
func TestHostProbe(t *testing.T) {
	near := newHostTarget(t, "127.0.0.1:0")
	port := near.srv.Listener.Addr().(*net.TCPAddr).Port
	far := newHostTarget(t, fmt.Sprintf("127.0.0.2:%d", port))
	dir := t.TempDir()
	for _, c := range []struct{ name, region, ip string }{{"near", "asia-east1", "127.0.0.1"}, {"far", "europe-west1", "127.0.0.2"}} {
		e2eutil.WriteFile(t, mkdir(t, filepath.Join(dir, c.name), "objects.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Node
metadata: {name: n1, labels: {topology.kubernetes.io/region: %s, topology.kubernetes.io/zone: %s-a}}
status: {conditions: [{type: Ready, status: "True"}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  labels: {federation.meridian.dev/name: fed}
  annotations:
    meridian.dev/probe: https
    meridian.dev/probe-port: "%d"
    meridian.dev/probe-interval: 1s
    meridian.dev/probe-timeout: 500ms
    meridian.dev/rise: "1"
    meridian.dev/fall: "1"
spec:
  rules:
    - host: shop.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
status: {loadBalancer: {ingress: [{ip: %s}]}}
`, c.region, c.region, port, c.ip))
	}
	s := startProbed(t, dir, "")
	cluster := func() string {
		r, err := s.Exchange("udp", "shop.example.com.", dns.TypeA, taipei)
		if err != nil || len(r.Answer) != 1 {
			return ""
		}
		return map[string]string{"127.0.0.1": "near", "127.0.0.2": "far"}[r.Answer[0].(*dns.A).A.String()]
	}
	e2eutil.Eventually(t, 15*time.Second, "probed and answered by near", func() bool {
		return near.requests.Load() > 0 && far.requests.Load() > 0 && cluster() == "near"
	})
	for _, h := range []*hostTarget{near, far} {
		if host, sni := h.seen(); host != "shop.example.com" || sni != "shop.example.com" {
			t.Errorf("probe Host %q, server name %q; want the host itself", host, sni)
		}
	}
	if strings.Contains(s.Out.String(), "annotation meridian.dev/") {
		t.Errorf("an annotation of the Ingress was refused:\n%s", s.Out)
	}
	near.fail.Store(true)
	took := e2eutil.Eventually(t, 10*time.Second, "answer moves to far", func() bool { return cluster() == "far" })
	t.Logf("near failing: answer moved after %v", took)
	if !s.HasMetric(t, `coredns_meridian_host_shard_healthy{cluster="near",host="shop.example.com."}`, "0") {
		t.Errorf("host_shard_healthy of near is not 0:\n%s", grepLines(s.Scrape(t), "host_shard"))
	}
	near.fail.Store(false)
	took = e2eutil.Eventually(t, 10*time.Second, "answer back to near", func() bool { return cluster() == "near" })
	t.Logf("near passing again: answer back after %v", took)
}

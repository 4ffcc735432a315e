package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// Probe timing of the federation below: a shard is down after fall failing
// probes and up after rise passing ones, so the answer must move within
// interval x fall (+ 1 s for scheduling and the rebuild) and come back
// within interval x rise (+ 1 s).
const (
	probeInterval = time.Second
	probeRise     = 2
	probeFall     = 2
	probed        = "probed.default.fed.svc.example.com."
)

// target is an HTTP server on 127.0.0.1 that a probe checks: it answers
// 200, answers 500, hangs, or is closed, as the test says.
type target struct {
	t    *testing.T
	port int

	mu   sync.Mutex
	mode string // "ok", "500", "hang"
	srv  *http.Server
	hung chan struct{} // closed to release hanging requests
}

func newTarget(t *testing.T) *target {
	tg := &target{t: t, mode: "ok", hung: make(chan struct{})}
	tg.start(0)
	t.Cleanup(func() { tg.stop(); close(tg.hung) })
	return tg
}

func (tg *target) start(port int) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		tg.t.Fatal(err)
	}
	tg.port = l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(tg.serve), ReadHeaderTimeout: 5 * time.Second}
	tg.mu.Lock()
	tg.srv = srv
	tg.mu.Unlock()
	go srv.Serve(l)
}

func (tg *target) stop() {
	tg.mu.Lock()
	srv := tg.srv
	tg.srv = nil
	tg.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (tg *target) set(mode string) {
	tg.mu.Lock()
	tg.mode = mode
	tg.mu.Unlock()
}

func (tg *target) serve(w http.ResponseWriter, r *http.Request) {
	tg.mu.Lock()
	mode := tg.mode
	tg.mu.Unlock()
	switch {
	case r.URL.Path != "/healthz":
		http.NotFound(w, r)
	case mode == "500":
		http.Error(w, "broken", http.StatusInternalServerError)
	case mode == "hang":
		select {
		case <-tg.hung:
		case <-r.Context().Done():
		}
	default:
		fmt.Fprintln(w, "ok")
	}
}

// writeProbedFederation writes two clusters, near (asia-east1, close to
// the Taipei client) and far (europe-west1), each running the probed
// service behind a load balancer at 127.0.0.1 and its target's port.
func writeProbedFederation(t *testing.T, dir string, near, far *target) {
	for _, c := range []struct {
		name, region string
		port         int
	}{{"near", "asia-east1", near.port}, {"far", "europe-west1", far.port}} {
		e2eutil.WriteFile(t, mkdir(t, filepath.Join(dir, c.name), "nodes.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %[1]s-node
  labels: {topology.kubernetes.io/region: %[2]s, topology.kubernetes.io/zone: %[2]s-a}
status:
  conditions: [{type: Ready, status: "True"}]
`, c.name, c.region))
		e2eutil.WriteFile(t, filepath.Join(dir, c.name, "services.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: probed
  namespace: default
  labels: {federation.meridian.dev/name: fed}
  annotations:
    meridian.dev/probe: http
    meridian.dev/probe-path: /healthz
    meridian.dev/probe-interval: %[2]s
    meridian.dev/probe-timeout: 250ms
    meridian.dev/rise: "%[3]d"
    meridian.dev/fall: "%[4]d"
spec:
  type: LoadBalancer
  ports: [{name: http, port: %[1]d, protocol: TCP}]
status:
  loadBalancer: {ingress: [{ip: 127.0.0.1}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: probed-1
  namespace: default
  labels: {kubernetes.io/service-name: probed}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]
`, c.port, probeInterval, probeRise, probeFall))
	}
}

func mkdir(t *testing.T, dir, file string) string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, file)
}

// TestProbeMovesAnswer runs the real binary with HTTP probes of listeners on
// 127.0.0.1: when the closest shard's target fails (500, hang, closed) the
// answer moves to the other cluster within interval x fall (+1 s), with the
// degraded TTL, and comes back within interval x rise (+1 s) once the
// target passes again.
func TestProbeMovesAnswer(t *testing.T) {
	near, far := newTarget(t), newTarget(t)
	dir := t.TempDir()
	writeProbedFederation(t, dir, near, far)
	root := e2eutil.RepoRoot()
	s := e2eutil.Start(t, func(p e2eutil.Ports) string {
		return fmt.Sprintf(`example.com:%d {
    bind 127.0.0.1
    meridian {
        federation fed
        manifests %s 100ms
        geoip %s
        ttl 30
        degraded_ttl 3
        probe_networks 127.0.0.0/8 ::1/128
    }
    prometheus 127.0.0.1:%d
    ready 127.0.0.1:%d
}
`, p.DNS, dir, filepath.Join(root, "testdata", "geoip", "meridian-test-city.mmdb"), p.Metrics, p.Ready)
	})

	cluster := func() (string, uint32) {
		r, err := s.Exchange("udp", probed, dns.TypeTXT, taipei)
		if err != nil || len(r.Answer) == 0 {
			return "", 0
		}
		txt, ok := r.Answer[0].(*dns.TXT)
		if !ok || len(txt.Txt) == 0 {
			return "", 0
		}
		return strings.TrimPrefix(txt.Txt[0], "cluster="), txt.Hdr.Ttl
	}
	waitFor := func(want string, limit time.Duration, what string) time.Duration {
		return e2eutil.Eventually(t, limit, what, func() bool { c, _ := cluster(); return c == want })
	}
	// Both targets must have passed a probe before the test begins, so the
	// first-result rule is behind us and rise/fall apply.
	e2eutil.Eventually(t, 10*time.Second, "first probes", func() bool {
		return metricValue(s.Scrape(t), `coredns_meridian_probes_total{check="http",result="success"}`) >= 2
	})
	time.Sleep(probeInterval + 200*time.Millisecond)
	if c, ttl := cluster(); c != "near" || ttl != 30 {
		t.Fatalf("before: cluster %q TTL %d, want near with 30", c, ttl)
	}

	downLimit := probeInterval*probeFall + time.Second
	upLimit := probeInterval*probeRise + time.Second
	for _, fault := range []string{"500", "hang", "closed"} {
		t.Run(fault, func(t *testing.T) {
			if fault == "closed" {
				near.stop()
			} else {
				near.set(fault)
			}
			took := waitFor("far", downLimit, "answer moves to far after "+fault)
			t.Logf("%s: answer moved to far after %v (limit %v)", fault, took, downLimit)
			if c, ttl := cluster(); c != "far" || ttl != 3 {
				t.Errorf("while near is down: cluster %q TTL %d, want far with the degraded TTL 3", c, ttl)
			}
			if !s.HasMetric(t, `coredns_meridian_shard_probe_up{cluster="near",namespace="default",service="probed"}`, "0") {
				t.Errorf("shard_probe_up of near is not 0:\n%s", grepLines(s.Scrape(t), "shard_probe_up"))
			}
			if fault == "closed" {
				near.start(near.port)
			} else {
				near.set("ok")
			}
			took = waitFor("near", upLimit, "answer returns to near")
			t.Logf("%s: answer back at near after %v (limit %v)", fault, took, upLimit)
			e2eutil.Eventually(t, time.Second, "TTL back to 30", func() bool { _, ttl := cluster(); return ttl == 30 })
		})
	}
	if !s.HasMetric(t, `coredns_meridian_health_transitions_total{signal="probe",to="down"}`, "3") {
		t.Errorf("transitions:\n%s", grepLines(s.Scrape(t), "transitions"))
	}
	if !strings.Contains(s.Out.String(), "up -> down") {
		t.Errorf("no transition in the log:\n%s", s.Out)
	}
}

// metricValue returns the value of series on a metrics page, or -1.
func metricValue(page, series string) float64 {
	for _, l := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

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
// probes and up after rise passing ones (docs/health.md). The test holds
// each probe of the near target while it asks DNS, so it sees the answer
// just before each result counts: the answer must move exactly at the
// fall-th failing probe and come back exactly at the rise-th passing one.
// The probe timeout leaves the held probe room on a busy 2-core machine.
const (
	probeInterval = time.Second
	probeTimeout  = 800 * time.Millisecond
	probeRise     = 2
	probeFall     = 3
	probed        = "probed.default.fed.svc.example.com."
)

// target is an HTTP server on 127.0.0.1 that a probe checks: it answers
// 200, answers 500, hangs, or is closed, as the test says. While watched,
// each probe is announced on a channel and held until the test releases it.
type target struct {
	t    *testing.T
	port int

	mu    sync.Mutex
	mode  string // "ok", "500", "hang"
	srv   *http.Server
	probe chan chan struct{} // when not nil: each probe sends its release and waits
	hung  chan struct{}      // closed to release hanging requests
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

// watch sets the mode and announces every later probe on the channel it
// returns, until unwatch; the probe waits for the test to close the
// channel it sent.
func (tg *target) watch(mode string) chan chan struct{} {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.mode = mode
	tg.probe = make(chan chan struct{}, 1)
	return tg.probe
}

func (tg *target) unwatch() {
	tg.mu.Lock()
	tg.probe = nil
	tg.mu.Unlock()
}

func (tg *target) serve(w http.ResponseWriter, r *http.Request) {
	tg.mu.Lock()
	mode, probe := tg.mode, tg.probe
	tg.mu.Unlock()
	if r.URL.Path != "/healthz" {
		http.NotFound(w, r)
		return
	}
	if probe != nil {
		release := make(chan struct{})
		select {
		case probe <- release:
		case <-r.Context().Done():
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
	}
	switch mode {
	case "500":
		http.Error(w, "broken", http.StatusInternalServerError)
	case "hang":
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
// service behind a load balancer at 127.0.0.1 and its target's port, with
// the probe annotations of TestProbeMovesAnswer.
func writeProbedFederation(t *testing.T, dir string, near, far *target) {
	writeProbed(t, dir, near, far, fmt.Sprintf(`{meridian.dev/probe: http, meridian.dev/probe-path: /healthz,
    meridian.dev/probe-interval: %s, meridian.dev/probe-timeout: %s, meridian.dev/rise: "%d", meridian.dev/fall: "%d"}`,
		probeInterval, probeTimeout, probeRise, probeFall))
}

// writeProbed writes the near and far clusters of the probed service,
// with annotations (a YAML flow mapping) on the Service.
func writeProbed(t *testing.T, dir string, near, far *target, annotations string) {
	t.Helper()
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
  annotations: %[2]s
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
`, c.port, annotations))
	}
}

func mkdir(t *testing.T, dir, file string) string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, file)
}

// TestProbeMovesAnswer runs the real binary with HTTP probes of listeners on
// 127.0.0.1. When the closest shard's target fails (500, hang) the answer
// still names it when the fall-th failing probe arrives and has moved to
// the other cluster, with the degraded TTL, when the next one arrives; once
// the target passes again (also after it was closed) the answer comes back
// between the rise-th and the next passing probe. A closed target sees no
// probes: its fall is bounded by interval x fall (+2 s) only.
func TestProbeMovesAnswer(t *testing.T) {
	near, far := newTarget(t), newTarget(t)
	dir := t.TempDir()
	writeProbedFederation(t, dir, near, far)
	s := startProbed(t, dir, "")
	// Both targets must have passed a probe before the test begins, so the
	// first-result rule is behind us and rise/fall apply.
	e2eutil.Eventually(t, 10*time.Second, "first probes", func() bool {
		return metricValue(s.Scrape(t), `coredns_meridian_probes_total{check="http",result="success"}`) >= 2
	})
	e2eutil.Eventually(t, 10*time.Second, "near with TTL 30", func() bool { c, ttl := probedCluster(s); return c == "near" && ttl == 30 })

	for _, fault := range []string{"500", "hang", "closed"} {
		t.Run(fault, func(t *testing.T) {
			if fault == "closed" {
				near.stop()
				// The first failing probe comes within an interval (and its
				// jitter); 2 s leave room for a busy 2-core machine.
				limit := probeInterval*probeFall + 2*time.Second
				took := e2eutil.Eventually(t, limit, "answer moves to far", func() bool { c, _ := probedCluster(s); return c == "far" })
				t.Logf("closed: answer moved to far after %v (limit %v)", took, limit)
			} else {
				countProbes(t, s, near.watch(fault), probeFall, "near", "far")
			}
			if c, ttl := probedCluster(s); c != "far" || ttl != 3 {
				t.Errorf("while near is down: cluster %q TTL %d, want far with the degraded TTL 3", c, ttl)
			}
			if !s.HasMetric(t, `coredns_meridian_shard_probe_up{cluster="near",namespace="default",service="probed"}`, "0") {
				t.Errorf("shard_probe_up of near is not 0:\n%s", grepLines(s.Scrape(t), "shard_probe_up"))
			}
			probes := near.watch("ok")
			if fault == "closed" {
				near.start(near.port)
			}
			countProbes(t, s, probes, probeRise, "far", "near")
			near.unwatch()
			e2eutil.Eventually(t, 2*time.Second, "TTL back to 30", func() bool { _, ttl := probedCluster(s); return ttl == 30 })
		})
	}
	if !s.HasMetric(t, `coredns_meridian_health_transitions_total{signal="probe",to="down"}`, "3") {
		t.Errorf("transitions:\n%s", grepLines(s.Scrape(t), "transitions"))
	}
	if !strings.Contains(s.Out.String(), "up -> down") {
		t.Errorf("no transition in the log:\n%s", s.Out)
	}
}

// startProbed starts meridian on the probed federation in dir; extra
// holds more lines of the meridian block (or "").
func startProbed(t *testing.T, dir, extra string) *e2eutil.Server {
	root := e2eutil.RepoRoot()
	return e2eutil.Start(t, func(p e2eutil.Ports) string {
		return fmt.Sprintf(`example.com:%d {
    bind 127.0.0.1
    meridian {
        federation fed
        manifests %s 100ms
        geoip %s
        ttl 30
        degraded_ttl 3
        probe_networks 127.0.0.0/8 ::1/128
%s
    }
    prometheus 127.0.0.1:%d
    ready 127.0.0.1:%d
}
`, p.DNS, dir, filepath.Join(root, "testdata", "geoip", "meridian-test-city.mmdb"), extra, p.Metrics, p.Ready)
	})
}

// probedCluster returns the cluster the Taipei client's TXT answer names,
// and its TTL.
func probedCluster(s *e2eutil.Server) (string, uint32) {
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

// countProbes holds each of the next n+1 probes that announce themselves
// on probes while it asks DNS: before the n-th probe's result counts the
// answer must still name from, and by the time the next probe arrives
// (one interval after the n-th) it must name to.
func countProbes(t *testing.T, s *e2eutil.Server, probes chan chan struct{}, n int, from, to string) {
	t.Helper()
	for i := 1; i <= n+1; i++ {
		var release chan struct{}
		select {
		case release = <-probes:
		case <-time.After(3 * probeInterval):
			t.Fatalf("probe %d of %d did not come within %v", i, n+1, 3*probeInterval)
		}
		want := from
		if i > n {
			want = to
		}
		c, _ := probedCluster(s)
		close(release)
		if c != want {
			t.Errorf("when probe %d arrived (after %d results of this kind) the answer named %q, want %q (rise/fall %d)", i, i-1, c, want, n)
		}
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

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/deploy/grafana"
	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestPrometheus runs a real Prometheus (Debian's) on loopback that
// scrapes the real binary serving the demo every second and evaluates
// the alert rules (their `for` cut to 10 s). It checks that promtool
// accepts a real scrape, that every expression of the rules and of the
// dashboard runs and names only metrics the binary exports, and that
// MeridianDegraded goes pending, then firing, when the Asian nginx shards
// become unready, and stops when they come back.
func TestPrometheus(t *testing.T) {
	prom, err1 := exec.LookPath("prometheus")
	promtool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		e2eutil.RequireRealParts(t, "prometheus and promtool are not installed (make test installs the prometheus package)")
	}
	root := e2eutil.RepoRoot()
	s := startDemo(t)
	s.Ask(t, "udp", nginx, 1, taipei) // CoreDNS's request series exist after a query

	// A real scrape passes promtool's checks.
	scrape := s.Scrape(t)
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(scrape)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on a real scrape: %v\n%s", err, out)
	}

	// The rules as shipped, their `for` cut so the test sees an alert
	// pending, then firing, within seconds.
	rules, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fast := regexp.MustCompile(`(?m)^(\s+for:) \d+m$`).ReplaceAll(rules, []byte("$1 10s"))
	if bytes.Equal(fast, rules) {
		t.Fatal("no `for:` cut in the rules")
	}
	e2eutil.WriteFile(t, filepath.Join(dir, "rules.yaml"), string(fast))
	port := e2eutil.FreePort(t)
	e2eutil.WriteFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yaml]
scrape_configs:
  - job_name: meridian
    static_configs:
      - targets: [%q]
`, s.Metrics))
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--log.level=warn")
	var out e2eutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/", port)
	query := func(expr string) (string, []any, error) {
		resp, err := http.Get(api + "query?" + url.Values{"query": {expr}}.Encode())
		if err != nil {
			return "", nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Error  string
			Data   struct{ Result []any }
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return "", nil, err
		}
		if r.Status != "success" {
			return r.Status, nil, fmt.Errorf("%s", r.Error)
		}
		return r.Status, r.Data.Result, nil
	}
	e2eutil.Eventually(t, 30*time.Second, "Prometheus scrapes the demo", func() bool {
		_, res, err := query(`up{job="meridian"} == 1`)
		return err == nil && len(res) == 1
	})

	// Every expression runs, and names only metrics the binary exports.
	var exprs []string
	for _, m := range regexp.MustCompile(`(?m)^\s+expr: (.+)$`).FindAllStringSubmatch(string(rules), -1) {
		exprs = append(exprs, m[1])
	}
	if multi := regexp.MustCompile(`(?ms)^\s+expr: \|\n(.*?)\n\s+for:`).FindAllStringSubmatch(string(rules), -1); len(multi) > 0 {
		for _, m := range multi {
			exprs = append(exprs, m[1])
		}
	}
	board, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "meridian.json"))
	if err != nil {
		t.Fatal(err)
	}
	dash, err := grafana.Exprs(board, "1m")
	if err != nil {
		t.Fatal(err)
	}
	exprs = append(exprs, dash...)
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)`).FindAllStringSubmatch(s.Scrape(t), -1) {
		exported[m[1]] = true
		if m[2] == "histogram" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				exported[m[1]+suffix] = true
			}
		}
	}
	names := regexp.MustCompile(`\bcoredns_[a-z0-9_]+`)
	for _, e := range exprs {
		if e == "|" {
			continue
		}
		if _, _, err := query(e); err != nil {
			t.Errorf("%s: %v", e, err)
		}
		for _, n := range names.FindAllString(e, -1) {
			if !exported[n] {
				t.Errorf("%s: %s is not a metric the binary exports", e, n)
			}
		}
	}
	if len(exprs) < 30 {
		t.Errorf("%d expressions read from the rules and the dashboard", len(exprs))
	}

	// The degraded alert through Prometheus's own evaluation.
	alert := func() string {
		resp, err := http.Get(api + "alerts")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string
					State  string
				}
			}
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return ""
		}
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "MeridianDegraded" && a.Labels["kind"] == "service" {
				return a.State
			}
		}
		return "inactive"
	}
	if st := alert(); st != "inactive" {
		t.Fatalf("MeridianDegraded is %q before any change", st)
	}
	for _, c := range asiaClusters {
		s.editDemo(t, c, "name: nginx-demo", "ready: true", "ready: false")
	}
	var states []string
	track := func() bool {
		st := alert()
		if len(states) == 0 || states[len(states)-1] != st {
			states = append(states, st)
		}
		return st == "firing"
	}
	took := e2eutil.Eventually(t, 40*time.Second, "MeridianDegraded firing", track)
	if !slices.Equal(states, []string{"inactive", "pending", "firing"}) && !slices.Equal(states, []string{"pending", "firing"}) {
		t.Errorf("MeridianDegraded went %v, want pending then firing", states)
	}
	t.Logf("MeridianDegraded: %v, firing %v after the shards became unready", states, took)
	for _, c := range asiaClusters {
		s.editDemo(t, c, "name: nginx-demo", "ready: false", "ready: true")
	}
	took = e2eutil.Eventually(t, 30*time.Second, "MeridianDegraded resolved", func() bool { return alert() == "inactive" })
	t.Logf("MeridianDegraded resolved %v after the shards came back", took)
}

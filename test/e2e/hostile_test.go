package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// evil is text that must reach no output as it is: HTML, quotes and an
// ampersand, an ANSI escape, a newline that would start a forged log line,
// a NUL and a DEL.
const evil = "<script>alert(\"x&y\")</script>'\x1b[31m\n[ERROR] forged\x00\x7f"

// forged is the start of the line a newline in evil would forge.
const forged = "[ERROR] forged"

// evilCluster is a manifest folder name (a cluster name) with all of evil
// but the NUL and the slash (no file name holds them), and the longest name
// a file system allows (255 bytes).
var evilCluster = func() string {
	n := strings.NewReplacer("\x00", "", "/", "").Replace(evil)
	return n + strings.Repeat("x", 255-len(n))
}()

// notUTF8 is a folder name that is not UTF-8: it names no cluster.
const notUTF8 = "not-utf8-\xff\xfe"

// yamlQuoted returns s as a YAML double-quoted scalar: every byte that is
// not printable ASCII escaped, so the file itself is valid YAML.
func yamlQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// evilManifests returns one cluster folder's manifests: a Node in
// region, and the Service nginx (address lb) with annotations ann.
func evilManifests(region, zone, lb string, ann map[string]string) string {
	var anns strings.Builder
	for k, v := range ann {
		fmt.Fprintf(&anns, "    %s: %s\n", k, yamlQuoted(v))
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels:
    topology.kubernetes.io/region: %s
    topology.kubernetes.io/zone: %s
status:
  conditions:
    - {type: Ready, status: "True"}
---
apiVersion: v1
kind: Service
metadata:
  name: nginx
  namespace: default
  labels:
    federation.meridian.dev/name: myfederation
  annotations:
%s    meridian.dev/none: "x"
spec:
  type: LoadBalancer
  ports:
    - {name: http, port: 80, protocol: TCP}
status:
  loadBalancer:
    ingress:
      - ip: %s
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: nginx-1
  namespace: default
  labels:
    kubernetes.io/service-name: nginx
addressType: IPv4
ports:
  - {name: http, port: 80, protocol: TCP}
endpoints:
  - {addresses: [10.0.0.1], conditions: {ready: true}}
`, yamlQuoted(region), yamlQuoted(zone), anns.String(), lb)
}

// banner matches the lines CoreDNS prints at start outside its log.
var banner = regexp.MustCompile(`^(maxprocs: .*|\S+:\d+ on \S+|CoreDNS-\S+|linux/\S+, go\S+, \S*)$`)

// TestHostileObjects serves a manifest folder whose objects carry evil
// text (issue 16, item 6) where the API server would not stop it: a
// cluster (folder) name with HTML, quotes, an ANSI escape, a newline and a
// DEL, 255 bytes long; a region and zone with the same; annotation values
// with all of it and a NUL (refused: Problems); a folder whose name is not
// UTF-8 (refused, logged: it would make metric labels panic). It
// checks every output: the process answers; the log has no line that does
// not start with its prefix; /metrics is served and parses; the status
// page and the explain endpoint hold no raw '<script>' nor control
// character; the TXT records carry the text as the wire allows.
func TestHostileObjects(t *testing.T) {
	dir := t.TempDir()
	for cluster, content := range map[string]string{
		"good":      evilManifests("us-central1", "us-central1-a", "192.0.2.1", nil),
		notUTF8:     evilManifests("us-central1", "us-central1-b", "192.0.2.3", nil),
		evilCluster: evilManifests("eu"+evil, "eu-a"+evil, "198.51.100.2", map[string]string{"meridian.dev/policy": evil, "meridian.dev/weights": strings.Repeat(evil, 200)}),
	} {
		if err := os.MkdirAll(filepath.Join(dir, cluster), 0o755); err != nil {
			t.Fatal(err)
		}
		e2eutil.WriteFile(t, filepath.Join(dir, cluster, "objects.yaml"), content)
	}
	db := filepath.Join(e2eutil.RepoRoot(), "testdata", "geoip", "meridian-test-city.mmdb")
	s := e2eutil.Start(t, func(p e2eutil.Ports) string {
		return fmt.Sprintf(`example.com:%d {
    bind 127.0.0.1
    meridian {
        federation myfederation
        manifests %s 250ms
        geoip %s
        status 127.0.0.1:%d
    }
    prometheus 127.0.0.1:%d
    ready 127.0.0.1:%d
    errors
}
`, p.DNS, dir, db, p.Status, p.Metrics, p.Ready)
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("meridian output:\n%q", s.Out)
		}
	})
	e2eutil.Eventually(t, 30*time.Second, "both clusters in the metrics", func() bool {
		return len(clusterLabels(t, s)) == 2
	})
	t.Run("dns", func(t *testing.T) {
		for _, qt := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeSRV} {
			for _, network := range []string{"udp", "tcp"} {
				r := s.Ask(t, network, nginx, qt, chi)
				if r.Rcode != dns.RcodeSuccess {
					t.Errorf("%s %s: rcode %s", network, dns.TypeToString[qt], dns.RcodeToString[r.Rcode])
				}
			}
		}
		r := s.Ask(t, "tcp", nginx, dns.TypeTXT, chi)
		for _, rr := range r.Answer {
			txt := rr.(*dns.TXT)
			t.Logf("TXT %s", rr)
			for _, part := range txt.Txt {
				if len(part) > 255 {
					t.Errorf("a TXT string of %d bytes", len(part))
				}
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		clusters := clusterLabels(t, s)
		if len(clusters) != 2 || !clusters["good"] || !clusters[evilCluster] {
			t.Errorf("cluster labels %q, want good and the evil one", slices.Sorted(maps.Keys(clusters)))
		}
	})
	t.Run("status page", func(t *testing.T) {
		page := e2eutil.HTTPGet(t, "http://"+s.Status+"/")
		e2eutil.CheckClean(t, "the status page", page, false)
		if !strings.Contains(page, "&lt;script&gt;") {
			t.Errorf("the status page does not show the evil cluster escaped")
		}
	})
	t.Run("explain", func(t *testing.T) {
		for _, qt := range []string{"A", "TXT"} {
			body := e2eutil.HTTPGet(t, "http://"+s.Status+"/explain?"+url.Values{"name": {nginx}, "type": {qt}, "client": {"24.0.0.1"}}.Encode())
			e2eutil.CheckClean(t, "explain "+qt, body, true)
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("explain %s is not JSON: %v", qt, err)
			}
		}
	})
	t.Run("log", func(t *testing.T) {
		out := s.Out.String()
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			if !strings.HasPrefix(line, "[") && !banner.MatchString(line) {
				t.Errorf("a line that does not start with the log's prefix: %q", line)
			}
			if strings.ContainsRune(line, 0x1b) {
				t.Errorf("a raw ANSI escape in the log: %q", line)
			}
		}
		if strings.Contains(out, "\n"+forged) {
			t.Errorf("the log has a forged line")
		}
		if !strings.Contains(out, fmt.Sprintf("manifest: folder %q is not read", notUTF8)) {
			t.Errorf("the folder whose name is not UTF-8 is not logged")
		}
	})
}

// clusterLabels scrapes the metrics, fails t unless they are served and
// parse, and returns the cluster labels of coredns_meridian_cluster_state.
func clusterLabels(t *testing.T, s *e2eutil.Server) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + s.Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s: %.500s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	clusters := map[string]bool{}
	for _, m := range families["coredns_meridian_cluster_state"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "cluster" {
				if !utf8.ValidString(l.GetValue()) {
					t.Errorf("cluster label %q is not UTF-8", l.GetValue())
				}
				clusters[l.GetValue()] = true
			}
		}
	}
	return clusters
}

package kube

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// evil is text that must reach no output as it is: HTML, quotes, an
// ampersand, an ANSI escape, a newline that would forge a log line, a DEL.
const evil = "<script>alert(\"x&y\")</script>'\x1b[31m\n[ERROR] forged\x7f"

// TestHostileKubeObjects (issue 16, item 6) puts hostile text where a real
// API server lets it in: a kubeconfig context name (any string: it becomes
// the cluster's name) and meridian.dev annotation values of 4 KiB. The
// process answers; no log line lacks the log's prefix; /metrics parses
// with the hostile cluster label; the status page and /explain hold no
// raw <script>alert nor control character.
func TestHostileKubeObjects(t *testing.T) {
	f := startFederation(t, 1)
	m := members[0]
	addNode(t, f.admin[m.name], m)
	addService(t, f.admin[m.name], m, "nginx", map[string]string{fedLabel: "myfed"}, 3)
	annotate(t, f.admin[m.name], "nginx", map[string]string{
		"meridian.dev/policy":  evil,
		"meridian.dev/weights": strings.Repeat(evil, 4096/len(evil)),
	})
	cluster := "ctx" + evil
	harness := f.kubecfg.Clusters[f.kubecfg.Contexts[m.name].Cluster]
	// As JSON, DEL escaped: YAML (what clientcmd writes) holds no raw
	// control character, and the loader reads the file as YAML.
	b, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": cluster,
		"clusters": []any{map[string]any{"name": cluster, "cluster": map[string]any{
			"server": harness.Server, "certificate-authority-data": harness.CertificateAuthorityData,
			"insecure-skip-tls-verify": harness.InsecureSkipTLSVerify}}},
		"users":    []any{map[string]any{"name": cluster, "user": map[string]any{"token": f.tokens[m.name]}}},
		"contexts": []any{map[string]any{"name": cluster, "context": map[string]any{"cluster": cluster, "user": cluster}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	e2eutil.WriteFile(t, kubeconfig, strings.ReplaceAll(string(b), "\x7f", `\u007f`))
	if back, err := clientcmd.LoadFromFile(kubeconfig); err != nil || back.Contexts[cluster] == nil {
		t.Fatalf("the kubeconfig does not read back with the context %q: %v", cluster, err)
	}
	status := fmt.Sprintf("http://127.0.0.1:%d", e2eutil.FreePort(t))
	s := startMeridian(t, kubeconfig, "status "+strings.TrimPrefix(status, "http://"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("meridian output:\n%q", s.Out)
		}
	})
	e2eutil.Eventually(t, 30*time.Second, "the hostile cluster answers", func() bool {
		got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, chi))
		return len(got) == 1 && got[0] == m.lb
	})

	// metrics
	body := e2eutil.HTTPGet(t, "http://"+s.Metrics+"/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	found := false
	for _, mf := range families["coredns_meridian_cluster_state"].GetMetric() {
		for _, l := range mf.GetLabel() {
			found = found || (l.GetName() == "cluster" && l.GetValue() == cluster)
		}
	}
	if !found {
		t.Errorf("no cluster_state series with the cluster label %q", cluster)
	}

	// status page and explain
	e2eutil.CheckClean(t, "the status page", e2eutil.HTTPGet(t, status+"/"), false)
	for _, qt := range []string{"A", "TXT"} {
		b := e2eutil.HTTPGet(t, status+"/explain?"+url.Values{"name": {nginx}, "type": {qt}, "client": {"24.0.0.1"}}.Encode())
		e2eutil.CheckClean(t, "explain "+qt, b, true)
		var v any
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Errorf("explain %s is not JSON: %v", qt, err)
		}
	}
	r := s.Ask(t, "tcp", nginx, dns.TypeTXT, chi)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("TXT: %v", r)
	} else if txt := r.Answer[0].(*dns.TXT).Txt; len(txt) == 0 || txt[0] != presentation("cluster="+cluster) {
		t.Errorf("TXT %q, want %q first (RFC 1035 presentation of cluster=%q)", txt, presentation("cluster="+cluster), cluster)
	} else {
		t.Logf("TXT as presented: %s", r.Answer[0])
	}

	// log
	for _, line := range strings.Split(strings.TrimRight(s.Out.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "[ERROR] forged") {
			t.Errorf("a forged log line: %q", line)
		}
		if strings.ContainsRune(line, 0x1b) {
			t.Errorf("a raw ANSI escape in the log: %q", line)
		}
	}
}

// presentation is s as RFC 1035 presentation form writes a character
// string, which is how miekg/dns hands out a TXT string it unpacked:
// quote and backslash escaped, other bytes outside printable ASCII \DDD.
func presentation(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

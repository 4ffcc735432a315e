// Package prometheus_test checks Meridian's alert rules: promtool accepts
// them and their unit tests pass, the chart renders them unchanged as a
// PrometheusRule, and every alert has a unit test and a runbook section.
package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/meridian-dns/meridian/deploy/helm"
	"github.com/meridian-dns/meridian/test/e2eutil"
)

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func readYAML(t *testing.T, path string, v any) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// TestPromtool runs promtool check rules and promtool test rules.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		e2eutil.RequireRealParts(t, "promtool is not installed (make test installs the prometheus package)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertsComplete: every alert has a severity, a summary, a
// description and a runbook anchor that docs/operating.md has, and a unit
// test in alerts_test.yaml.
func TestAlertsComplete(t *testing.T) {
	var rules ruleFile
	readYAML(t, "alerts.yaml", &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	readYAML(t, "alerts_test.yaml", &tests)
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.Alertname] = true
			}
		}
	}
	doc, err := os.ReadFile(filepath.Join(e2eutil.RepoRoot(), "docs", "operating.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(doc), -1) {
		anchors[slug(m[1])] = true
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: severity, summary and description are required: %v %v", r.Alert, r.Labels, r.Annotations)
			}
			const base = "https://github.com/meridian-dns/meridian/blob/main/docs/operating.md#"
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], base)
			if !ok || !anchors[anchor] || anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook_url %q, want %s%s with that section in docs/operating.md", r.Alert, r.Annotations["runbook_url"], base, strings.ToLower(r.Alert))
			}
			if !fired[r.Alert] {
				t.Errorf("%s: no unit test in alerts_test.yaml expects it to fire", r.Alert)
			}
		}
	}
	if n < 10 {
		t.Errorf("%d alerts: the rules file was not read", n)
	}
}

// slug is GitHub's anchor of a Markdown heading.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = regexp.MustCompile("[^a-z0-9 _-]").ReplaceAllString(h, "")
	return strings.ReplaceAll(h, " ", "-")
}

// TestChartRule: the chart's PrometheusRule holds the rule file as it is,
// the Prometheus templates of its annotations untouched by Helm.
func TestChartRule(t *testing.T) {
	var want ruleFile
	readYAML(t, "alerts.yaml", &want)
	ms, err := helm.Render("meridian", "meridian", helm.ValueSets["monitoring on"])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, doc := range strings.Split(m.Text, "\n---\n") {
			var obj struct {
				Kind string   `json:"kind"`
				Spec ruleFile `json:"spec"`
			}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj.Kind != "PrometheusRule" {
				continue
			}
			if !reflect.DeepEqual(obj.Spec, want) {
				t.Errorf("the PrometheusRule's spec differs from alerts.yaml:\n%s", doc)
			}
			if !strings.Contains(doc, "{{ $labels.cluster }}") {
				t.Errorf("the PrometheusRule lost the Prometheus templates:\n%s", doc)
			}
			return
		}
	}
	t.Fatal("monitoring on renders no PrometheusRule")
}

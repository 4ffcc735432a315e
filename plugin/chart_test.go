package meridian

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"sigs.k8s.io/yaml"

	"github.com/meridian-dns/meridian/deploy/helm"
)

// TestChartCorefile renders the chart for every value set and parses its
// Corefile's meridian block with the plugin's own parser.
func TestChartCorefile(t *testing.T) {
	for name, values := range helm.ValueSets {
		t.Run(name, func(t *testing.T) {
			corefile := renderedCorefile(t, values)
			keys, block := splitCorefile(t, corefile)
			c := caddy.NewTestController("dns", block)
			c.ServerBlockKeys = keys
			cfg, err := parse(c)
			if err != nil {
				t.Fatalf("the rendered Corefile does not parse: %v\n%s", err, corefile)
			}
			if cfg.Federation != "myfederation" {
				t.Errorf("federation %q", cfg.Federation)
			}
			if name == "everything" && (len(cfg.Build.HostRules) != 2 || cfg.Build.Defaults.MinReady != 2 || cfg.ShardMetrics || cfg.GeoIP == "") {
				t.Errorf("settings not applied: %+v", cfg.Build)
			}
			if name == "everything" && (cfg.FastPath == 0 || !strings.Contains(corefile, "bind {$POD_IP}")) {
				t.Errorf("fastpath.enabled: fast path %d, and the block must bind the pod's IP:\n%s", cfg.FastPath, corefile)
			}
			if name == "everything" && (cfg.RRL == nil || cfg.RRL.Responses != 50 || len(cfg.RRL.Exempt) != 2) {
				t.Errorf("rrl settings not applied: %+v", cfg.RRL)
			}
			wantCap, wantTimeouts := 1000, "    timeouts {\n        read 3s\n        idle 10s\n    }\n"
			if name == "tcp off" {
				wantCap, wantTimeouts = 0, "    timeouts {\n        read 2s\n        idle 30s\n    }\n"
			}
			if cfg.MaxTCPConnections != wantCap || !strings.Contains(corefile, wantTimeouts) {
				t.Errorf("tcp: max_tcp_connections %d, want %d, and the timeouts\n%s\nin:\n%s", cfg.MaxTCPConnections, wantCap, wantTimeouts, corefile)
			}
			if (name == "resolver") != (cfg.Role == Resolver) {
				t.Errorf("role %v", cfg.Role)
			}
		})
	}
}

// TestChartValuesDocumented checks that every line of the plugin README's
// Syntax blocks is named in the chart's values.yaml, as a value or in the
// documentation of settings.
func TestChartValuesDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	values, err := os.ReadFile("../deploy/helm/meridian/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	syntax, _, _ := strings.Cut(string(readme), "\n* **ZONES**")
	_, syntax, _ = strings.Cut(syntax, "## Syntax")
	n := 0
	for _, m := range regexp.MustCompile(`(?m)^    ([a-z_]+)( |$)`).FindAllStringSubmatch(syntax, -1) {
		if !strings.Contains(string(values), m[1]) {
			t.Errorf("the plugin's %q line is not in deploy/helm/meridian/values.yaml", m[1])
		}
		n++
	}
	if n < 40 {
		t.Errorf("found only %d lines in the README's Syntax blocks", n)
	}
}

// renderedCorefile renders the chart with values and returns the Corefile
// of its ConfigMap.
func renderedCorefile(t *testing.T, values map[string]any) string {
	t.Helper()
	ms, err := helm.Render("meridian", "meridian", values)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if strings.HasSuffix(m.Path, "/configmap.yaml") {
			var cm struct {
				Data map[string]string `json:"data"`
			}
			if err := yaml.Unmarshal([]byte(m.Text), &cm); err != nil {
				t.Fatal(err)
			}
			return cm.Data["Corefile"]
		}
	}
	t.Fatal("no ConfigMap rendered")
	return ""
}

// splitCorefile returns the server block's keys (the zones, without the
// port) and its meridian block.
func splitCorefile(t *testing.T, corefile string) ([]string, string) {
	t.Helper()
	first, _, _ := strings.Cut(corefile, " {\n")
	var keys []string
	for _, k := range strings.Fields(first) {
		zone, _, _ := strings.Cut(k, ":")
		keys = append(keys, strings.ToLower(zone)+".")
	}
	start := strings.Index(corefile, "meridian {")
	end := strings.Index(corefile[start:], "\n    }\n")
	if start < 0 || end < 0 {
		t.Fatalf("no meridian block:\n%s", corefile)
	}
	return keys, corefile[start : start+end+6]
}

// TestChartDNSSEC renders the chart's dnssec values: the Corefile's dnssec
// block names every key below the Secret's mount, the Deployment mounts
// that Secret read-only, and the values the chart refuses fail the render
// with a message that names them.
func TestChartDNSSEC(t *testing.T) {
	corefile := renderedCorefile(t, helm.ValueSets["dnssec"])
	block := "    dnssec {\n        key file /etc/meridian/dnssec/ksk-2026 /etc/meridian/dnssec/ksk-2027\n        cache_capacity 10000\n    }\n"
	if !strings.Contains(corefile, block) {
		t.Errorf("no dnssec block\n%s\nin the Corefile:\n%s", block, corefile)
	}
	if c := renderedCorefile(t, nil); strings.Contains(c, "dnssec") {
		t.Errorf("dnssec in the default Corefile:\n%s", c)
	}
	ms, err := helm.Render("meridian", "meridian", helm.ValueSets["dnssec"])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if !strings.HasSuffix(m.Path, "/deployment.yaml") {
			continue
		}
		for _, want := range []string{"{name: dnssec, mountPath: /etc/meridian/dnssec, readOnly: true}", "secretName: meridian-dnssec",
			"{key: ksk-2027.private, path: ksk-2027.private, mode: 288}", "fsGroup: 65532"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("the Deployment has no %q:\n%s", want, m.Text)
			}
		}
	}
	on := map[string]any{"enabled": true, "keys": []any{"ksk-2026"}}
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"resolver", map[string]any{"role": "resolver", "dnssec": on}, "the resolver role is not signed"},
		{"fast path", map[string]any{"fastpath": map[string]any{"enabled": true}, "dnssec": on}, "the fast path cannot sign"},
		{"no keys", map[string]any{"dnssec": map[string]any{"enabled": true}}, "dnssec.keys must list"},
		{"no Secret", map[string]any{"dnssec": map[string]any{"enabled": true, "keySecret": "", "keys": []any{"k"}}}, "dnssec.keySecret must name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helm.Render("meridian", "meridian", tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v; want an error with %q", err, tc.want)
			}
		})
	}
}

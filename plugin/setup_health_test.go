package meridian

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/coredns/caddy"

	"github.com/meridian-dns/meridian/plugin/policy"
)

// TestSettingLines checks that every per-service setting is a line of the
// block with its own form, shadowed by no other line, and limited to the
// roles that read it.
func TestSettingLines(t *testing.T) {
	for _, s := range policy.Settings() {
		if _, ok := properties[s.Corefile]; ok {
			t.Errorf("%s is also a property of setup.go, which wins", s.Corefile)
		}
		if _, ok := resolverProperties[s.Corefile]; ok {
			t.Errorf("%s is also a resolver property", s.Corefile)
		}
		if p := healthProperties[s.Corefile]; p.form != s.CorefileForm() {
			t.Errorf("%s: form %q, want %q", s.Corefile, p.form, s.CorefileForm())
		}
		r, only := roleOnly[s.Corefile]
		switch s.Roles {
		case policy.Authoritative | policy.Resolver:
			if only {
				t.Errorf("%s: only for role %v, but both roles read it", s.Corefile, r)
			}
		case policy.Authoritative:
			if !only || r != Authoritative {
				t.Errorf("%s: roleOnly %v %v, want authoritative", s.Corefile, r, only)
			}
		}
	}
}

// TestParseSettingsAsAnnotations checks that each per-service line, its
// value in quotes, makes the default policy that annotation makes.
func TestParseSettingsAsAnnotations(t *testing.T) {
	samples := map[string]string{
		"policy": "roundrobin", "shards": "3", "failover": "eu, us-central1", "weights": "a=1, b=2",
		"min_ready": "2", "min_ready_fraction": "50%", "backends": "any", "spill": "10", "rise": "4", "fall": "5", "probe": "https",
		"probe_port": "Admin", "probe_path": "/ready", "probe_host": "api.example.com", "probe_interval": "20s",
		"probe_timeout": "3s", "probe_expect": "204", "probe_body": " all  good ",
	}
	for _, s := range policy.Settings() {
		v, ok := samples[s.Corefile]
		if !ok {
			t.Errorf("no sample value for %s", s.Corefile)
			continue
		}
		c := caddy.NewTestController("dns", "meridian {\nfederation f\n"+s.Corefile+" "+strconv.Quote(v)+"\n}")
		cfg, err := parse(c)
		if err != nil {
			t.Errorf("%s %q: %v", s.Corefile, v, err)
			continue
		}
		want, probs := policy.Parse(map[string]string{policy.Prefix + s.Annotation: v}, policy.Default())
		if len(probs) != 0 || !reflect.DeepEqual(cfg.Build.Defaults, want) {
			t.Errorf("%s %q makes\n%+v\nthe annotation makes\n%+v %v", s.Corefile, v, cfg.Build.Defaults, want, probs)
		}
	}
}

func TestParseSettingLines(t *testing.T) {
	const resolver = "meridian example.org {\nrole resolver\nfederation myfed\nin_cluster c\nupstream 192.0.2.53\n"
	runParse(t, []parseCase{
		{name: "failover", input: "meridian {\nfederation f\npolicy failover\nfailover eu, US-central1\n}", check: func(t *testing.T, c *Config) {
			if d := c.Build.Defaults; d.Kind != policy.Failover || strings.Join(d.Failover, " ") != "eu us-central1" {
				t.Errorf("defaults %+v", d)
			}
		}},
		{name: "weighted, list in quotes", input: "meridian {\nfederation f\nweights \"a=1,b=2\"\npolicy weighted\n}", check: func(t *testing.T, c *Config) {
			if d := c.Build.Defaults; d.Kind != policy.Weighted || len(d.Weights) != 2 || d.Weights[1] != (policy.Weight{Cluster: "b", Weight: 2}) {
				t.Errorf("defaults %+v", d)
			}
		}},
		{name: "probe lines", input: "meridian {\nfederation f\nprobe https\nprobe_port 8443\nprobe_path /ready\nprobe_host API.example.com\nprobe_body all good\n}",
			check: func(t *testing.T, c *Config) {
				if p := c.Build.Defaults.Probe; p.Port != 8443 || p.Path != "/ready" || p.Host != "api.example.com" || p.Body != "all good" {
					t.Errorf("probe %+v", p)
				}
			}},
		{name: "failover without a list", input: "meridian {\nfederation f\npolicy failover\n}",
			wantErr: `Error during parsing: policy failover needs a "failover NAME[, NAME...]" line`},
		{name: "failover list without commas", input: "meridian {\nfederation f\nfailover a b\n}",
			wantErr: `"a b" is not a list "a, b, c"`},
		{name: "probe_interval below 1s", input: "meridian {\nfederation f\nprobe_interval 500ms\n}",
			wantErr: `"500ms" is not a duration from 1s to 1h`},
		{name: "probe_body too long", input: "meridian {\nfederation f\nprobe_body " + strings.Repeat("x", 257) + "\n}",
			wantErr: "at most 256 bytes"},
		{name: "probe_body without text", input: "meridian {\nfederation f\nprobe_body\n}", wantErr: `want "probe_body BODY_SUBSTRING"`},
		{name: "capacity lines in a resolver", input: resolver + "min_ready 2\nmin_ready_fraction 50%\nrise 3\nfall 4\n}",
			check: func(t *testing.T, c *Config) {
				if d := c.Build.Defaults; d.MinReady != 2 || d.MinReadyFraction != 0.5 || d.Probe.Rise != 3 || d.Probe.Fall != 4 {
					t.Errorf("defaults %+v", d)
				}
			}},
		{name: "probe_port in a resolver", input: resolver + "probe_port 80\n}", wantErr: "probe_port: only for role authoritative"},
		{name: "policy in a resolver", input: resolver + "policy failover\n}", wantErr: "policy: only for role authoritative"},
	})
}

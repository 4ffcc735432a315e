package e2eutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnboundConfig checks the configuration StartUnbound writes, with and
// without a trust anchor: the validator module and the anchor only with
// one; and, where unbound-checkconf is installed, that Unbound accepts both.
func TestUnboundConfig(t *testing.T) {
	const anchor = "example.com. 3600 IN DS 12345 13 2 C2AEFA7F6197672187A022D26677A1FD80CB337CEC7C77FA8DEF0C61D329F677"
	for _, tc := range []struct {
		name   string
		cfg    UnboundConfig
		want   []string
		absent []string
	}{
		{"no anchor", UnboundConfig{Zone: "example.com.", Authority: "127.0.0.1:5300"},
			[]string{`module-config: "subnetcache iterator"`}, []string{"validator", "trust-anchor:", "ede:"}},
		{"anchor", UnboundConfig{Zone: "example.com.", Authority: "127.0.0.1:5300", TrustAnchor: anchor},
			[]string{`module-config: "subnetcache validator iterator"`, `trust-anchor: "` + anchor + `"`, "ede: yes"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := unboundConfig(dir, 5301, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(f.text, w) {
					t.Errorf("no %q in\n%s", w, f.text)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(f.text, a) {
					t.Errorf("%q in\n%s", a, f.text)
				}
			}
			check, err := exec.LookPath("unbound-checkconf")
			if err != nil {
				return
			}
			path := filepath.Join(dir, "unbound.conf")
			if err := os.WriteFile(path, []byte(f.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(check, path).CombinedOutput(); err != nil {
				t.Errorf("unbound-checkconf: %v\n%s\n%s", err, out, f.text)
			}
		})
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// netnsChild is set in the environment of the test binary re-executed
// inside a private network namespace.
const netnsChild = "MERIDIAN_E2E_NETNS"

// zonemasterAllowed are the Zonemaster findings at WARNING and above that
// serving the zone on loopback implies, not Meridian's answers. Any other
// finding at WARNING or above fails the test.
var zonemasterAllowed = map[string]string{
	"NAMESERVER_IP_PRIVATE_NETWORK": "127.0.0.1 and 127.0.0.2 are loopback addresses (RFC 1122)",
	"NO_RESPONSE_PTR_QUERY":         "no reverse zone for 127.0.0.x can be reached from the namespace",
	"Z01_MNAME_HAS_LOCALHOST_ADDR":  "the SOA MNAME ns1.example.com has a loopback address",
}

// zonemasterForbidden reports whether a finding concerns the serial or the
// consistency of the replicas: any such finding above INFO fails, the
// NOTICE SOA_SERIAL_VARIATION and the WARNING MULTIPLE_SOA_SERIALS first.
func zonemasterForbidden(f finding) bool {
	if f.Level == "INFO" || f.Level == "DEBUG" {
		return false
	}
	return strings.EqualFold(f.Module, "consistency") || strings.Contains(strings.ToUpper(f.Tag), "SERIAL")
}

// TestZonemaster runs Zonemaster (Debian's zonemaster-cli) against two
// replicas of the real binary on 127.0.0.1:53 and 127.0.0.2:53, the NS set
// of the zone, inside a private network namespace (unshare -n) where they
// may bind port 53 and from which nothing reaches any other network. No
// SOA-serial or consistency finding may appear.
func TestZonemaster(t *testing.T) {
	if os.Getenv(netnsChild) == "1" {
		zonemasterInNamespace(t)
		return
	}
	requireRealParts(t, "unshare", "ip", "zonemaster-cli")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "--", os.Args[0],
		"-test.run=^TestZonemaster$", "-test.count=1", "-test.v", "-test.timeout=9m")
	cmd.Env = append(os.Environ(), netnsChild+"=1", "MERIDIAN_BIN="+e2eutil.Binary(t))
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the test inside the namespace failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestZonemaster") {
		t.Fatal("the test inside the namespace did not pass")
	}
}

// requireRealParts skips the test (or fails it under CI, which installs
// them all) when it is not root or a tool is missing.
func requireRealParts(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (for unshare -n)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		e2eutil.RequireRealParts(t, "needs "+strings.Join(missing, ", ")+" (hack/install-tools.sh installs the tools)")
	}
}

// zonemasterInNamespace is the test inside the namespace: loopback up, the
// two replicas, then Zonemaster.
func zonemasterInNamespace(t *testing.T) {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	near, far := newTarget(t), newTarget(t)
	dir, _ := writeSerialFederation(t, near, far)
	for _, addr := range []string{"127.0.0.1", "127.0.0.2"} {
		startOn53(t, dir, addr)
	}
	var serials []uint32
	for _, addr := range []string{"127.0.0.1:53", "127.0.0.2:53"} {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeSOA)
		r, err := dns.Exchange(m, addr)
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("SOA from %s: %v %v", addr, r, err)
		}
		serials = append(serials, r.Answer[0].(*dns.SOA).Serial)
	}
	if serials[0] != serials[1] {
		t.Errorf("serials %v differ", serials)
	}
	found := runZonemaster(t)
	agreed := false
	for _, f := range found {
		switch {
		case zonemasterForbidden(f):
			t.Errorf("Zonemaster: %s %s %s %v", f.Level, f.Module, f.Tag, f.Args)
		case f.Tag == "ONE_SOA_SERIAL":
			agreed = true
		case f.Level == "INFO" || f.Level == "NOTICE" || f.Level == "DEBUG":
		case zonemasterAllowed[f.Tag] == "":
			t.Errorf("Zonemaster, a finding not listed as implied by loopback: %s %s %s %v", f.Level, f.Module, f.Tag, f.Args)
		default:
			t.Logf("Zonemaster, allowed (%s): %s %s", zonemasterAllowed[f.Tag], f.Level, f.Tag)
		}
	}
	if !agreed {
		t.Errorf("Zonemaster reported no ONE_SOA_SERIAL (did Consistency01 run?): %d findings", len(found))
	}
}

// startOn53 starts a replica on addr:53 serving the serial federation.
func startOn53(t *testing.T, dir, addr string) {
	geoip := filepath.Join(e2eutil.RepoRoot(), "testdata", "geoip", "meridian-test-city.mmdb")
	e2eutil.Start(t, func(p e2eutil.Ports) string {
		return fmt.Sprintf(`example.com:53 {
    bind %s
    meridian {
        federation fed
        manifests %s 100ms
        geoip %s
        ns ns1.example.com 127.0.0.1
        ns ns2.example.com 127.0.0.2
        hostmaster hostmaster.example.com
        probe_networks 127.0.0.0/8
    }
    ready 127.0.0.1:%d
}
`, addr, dir, geoip, p.Ready)
	})
}

// finding is one message of zonemaster-cli --json-stream.
type finding struct {
	Level  string         `json:"level"`
	Module string         `json:"module"`
	Tag    string         `json:"tag"`
	Args   map[string]any `json:"args"`
}

// runZonemaster runs zonemaster-cli undelegated against the two replicas
// and returns its findings at INFO and above.
func runZonemaster(t *testing.T) []finding {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "zonemaster-cli", "--json-stream", "--no-ipv6", "--no-progress",
		"--level", "INFO", "--ns", "ns1.example.com/127.0.0.1", "--ns", "ns2.example.com/127.0.0.2", "example.com")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("zonemaster-cli took longer than 6 minutes:\n%s\n%s", out, &stderr)
	}
	if err != nil {
		t.Fatalf("zonemaster-cli: %v\n%s\n%s", err, out, &stderr)
	}
	var found []finding
	for line := range bytes.Lines(out) {
		var f finding
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("zonemaster-cli output %q: %v", line, err)
		}
		found = append(found, f)
	}
	return found
}

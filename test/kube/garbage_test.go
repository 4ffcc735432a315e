package kube

import (
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestKubeconfigGarbage rewrites the kubeconfig of a running Meridian on two
// real API servers (issue 16, item 6) with random bytes, with the valid
// file cut short where it no longer parses, and with valid YAML that names
// no context (what an emptied file reads as): each time the running
// clusters are kept and still watched (an EndpointSlice changed in
// member-1 moves the Chicago client's answer), no member is restarted, and
// a log line names the file and the error, with no token in it. Then a
// valid file whose member-2 points at a closed port: that is a change made
// on purpose (docs/kubernetes-source.md), so member-2 alone is restarted,
// goes stale, and member-1 keeps being watched. Last the good file comes
// back and member-2 answers again.
func TestKubeconfigGarbage(t *testing.T) {
	f := startFederation(t, 2)
	fed := map[string]string{fedLabel: "myfed"}
	for _, m := range members[:2] {
		addNode(t, f.admin[m.name], m)
		addService(t, f.admin[m.name], m, "nginx", fed, 3)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	f.writeKubeconfig(t, kubeconfig, "member-1", "member-2")
	good, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// startup_timeout is short: it must have passed before member-2 is
	// restarted (see the report in docs/reliability.md).
	s := startMeridian(t, kubeconfig, "stale_after 3s", "down_after 60s", "startup_timeout 3s")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("meridian output:\n%s", s.Out)
		}
	})
	answer := func(t *testing.T, subnet, want string) {
		t.Helper()
		e2eutil.Eventually(t, 30*time.Second, subnet+" answered "+want, func() bool {
			got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, subnet))
			return len(got) == 1 && got[0] == want
		})
	}
	answer(t, chi, "192.0.2.1")
	answer(t, paris, "198.51.100.2")
	// watched: member-1's EndpointSlice loses its ready endpoints and the
	// Chicago client moves to member-2; they come back and so does it.
	watched := func(t *testing.T) {
		t.Helper()
		setReady(t, f.admin["member-1"], "nginx", 0)
		answer(t, chi, "198.51.100.2")
		setReady(t, f.admin["member-1"], "nginx", 3)
		answer(t, chi, "192.0.2.1")
	}
	const keeping = "kube: keeping the current clusters: "
	logStart := len(s.Out.String())
	const configOK = `coredns_meridian_source_config_ok{source="kubeconfig"}`
	if got := s.Metric(t, configOK); got != "1" {
		t.Errorf("%s is %q with a good kubeconfig, want 1", configOK, got)
	}

	random := make([]byte, 2048)
	r := rand.New(rand.NewPCG(16, 6))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	cut := len(good) / 2
	for ; cut > 0; cut-- { // the longest half that no longer parses
		if _, err := clientcmd.Load(good[:cut]); err != nil {
			break
		}
	}
	noContext := strings.Split(string(good), "contexts:")[0] // clusters, then nothing
	if cfg, err := clientcmd.Load([]byte(noContext)); err != nil || len(cfg.Contexts) != 0 || len(cfg.Clusters) == 0 {
		t.Fatalf("the file without contexts: %v, %+v; want a valid file with clusters and no context", err, cfg)
	}
	for _, tc := range []struct {
		name, content, inLog string
	}{
		{"random bytes", string(random), "yaml: "},
		{"cut short", string(good[:cut]), ""},
		{"no context", noContext, "no context names a member cluster"},
		{"emptied", "", ""}, // the same error as "no context": not logged again
	} {
		t.Run(tc.name, func(t *testing.T) {
			logged := strings.Count(s.Out.String(), keeping)
			if err := os.WriteFile(kubeconfig, []byte(tc.content), 0o600); err != nil { // in place
				t.Fatal(err)
			}
			if tc.name != "emptied" {
				e2eutil.Eventually(t, 15*time.Second, "the failure logged", func() bool {
					return strings.Count(s.Out.String(), keeping) > logged
				})
				line := lastLine(s.Out.String(), keeping)
				if !strings.Contains(line, kubeconfig) || !strings.Contains(line, tc.inLog) {
					t.Errorf("the log line %q does not name the file %s and the error %q", line, kubeconfig, tc.inLog)
				}
				t.Logf("logged: %s", line)
			} else {
				time.Sleep(3 * time.Second) // the file is read every 2 s
			}
			s.WaitMetric(t, 10*time.Second, configOK, func() string { return "0" })
			watched(t)
			for _, m := range []string{"member-1", "member-2"} {
				if n := joins(s.Out.String(), m); n != 1 {
					t.Errorf("%s joined %d times, want once: the garbage restarted it", m, n)
				}
				if !s.HasMetric(t, `coredns_meridian_cluster_state{cluster="`+m+`",state="up"}`, "1") {
					t.Errorf("%s is not up", m)
				}
			}
			answer(t, paris, "198.51.100.2")
		})
	}

	t.Run("member-2 at a closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := l.Addr().String()
		l.Close()
		cfg, err := clientcmd.Load(good)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Clusters[cfg.Contexts["member-2"].Cluster].Server = "https://" + closed
		b, err := clientcmd.Write(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kubeconfig, b, 0o600); err != nil {
			t.Fatal(err)
		}
		e2eutil.Eventually(t, 15*time.Second, "member-2 restarted at "+closed, func() bool {
			return strings.Contains(s.Out.String(), `kube: cluster "member-2" joined (https://`+closed+`)`)
		})
		if got := s.Metric(t, configOK); got != "1" {
			t.Errorf("%s is %q once the kubeconfig is read again, want 1", configOK, got)
		}
		e2eutil.Eventually(t, 30*time.Second, "member-2 stale", func() bool {
			return s.HasMetric(t, `coredns_meridian_cluster_state{cluster="member-2",state="stale"}`, "1")
		})
		if n := joins(s.Out.String(), "member-1"); n != 1 {
			t.Errorf("member-1 joined %d times, want once", n)
		}
		// A stale cluster's last state is still served: setting member-1's
		// endpoints to none moves Chicago to member-2's last addresses.
		watched(t)
	})

	t.Run("restored", func(t *testing.T) {
		if err := os.WriteFile(kubeconfig, good, 0o600); err != nil {
			t.Fatal(err)
		}
		e2eutil.Eventually(t, 30*time.Second, "member-2 up again", func() bool {
			return joins(s.Out.String(), "member-2") == 3 &&
				s.HasMetric(t, `coredns_meridian_cluster_state{cluster="member-2",state="up"}`, "1")
		})
		setReady(t, f.admin["member-2"], "nginx", 0)
		answer(t, paris, "192.0.2.1")
		setReady(t, f.admin["member-2"], "nginx", 3)
		answer(t, paris, "198.51.100.2")
		watched(t)
	})

	out := s.Out.String()
	for m, token := range f.tokens {
		if strings.Contains(out, token) {
			t.Errorf("%s's token is in the log", m)
		}
	}
	for _, line := range strings.Split(strings.TrimRight(out[logStart:], "\n"), "\n") {
		if !strings.HasPrefix(line, "[") {
			t.Errorf("a log line without the log's prefix (a forged or broken line): %q", line)
		}
	}
}

// lastLine returns the last line of out that contains marker.
func lastLine(out, marker string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], marker) {
			return lines[i]
		}
	}
	return ""
}

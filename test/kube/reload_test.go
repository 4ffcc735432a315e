package kube

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// joins counts the "cluster NAME joined" lines in a meridian log: one per
// start of a member's watch.
func joins(out, cluster string) int {
	return strings.Count(out, fmt.Sprintf("kube: cluster %q joined", cluster))
}

// testReloadRestartsOnlyChanged rewrites the kubeconfig of a running
// meridian (docs/kubernetes-source.md, plugin/README.md): member-2 gets a
// new token, the other contexts are written again unchanged. Only
// member-2 is restarted: it joins a second time, the others, and member-4
// (which joined and left before), were started exactly once.
func testReloadRestartsOnlyChanged(t *testing.T, f *federation, s *e2eutil.Server, kubeconfig string) {
	for _, m := range []string{"member-1", "member-2", "member-3", "member-4"} {
		if n := joins(s.Out.String(), m); n != 1 {
			t.Fatalf("before the reload %s joined %d times, want 1:\n%s", m, n, s.Out)
		}
	}
	tokens := map[string]string{"member-1": f.tokens["member-1"], "member-3": f.tokens["member-3"],
		"member-2": f.token(t, "member-2")}
	if tokens["member-2"] == f.tokens["member-2"] {
		t.Fatal("the API server returned the same token twice")
	}
	f.writeKubeconfigTokens(t, kubeconfig, tokens)
	took := e2eutil.Eventually(t, 15*time.Second, "member-2 restarted", func() bool { return joins(s.Out.String(), "member-2") == 2 })
	t.Logf("member-2 restarted %v after the write", took)
	// The reload that restarted member-2 read the whole file: had it
	// restarted another member, that member's line would be there too.
	for m, want := range map[string]int{"member-1": 1, "member-2": 2, "member-3": 1, "member-4": 1} {
		if n := joins(s.Out.String(), m); n != want {
			t.Errorf("%s joined %d times, want %d", m, n, want)
		}
	}
	e2eutil.Eventually(t, 15*time.Second, "member-2 answers with its new token", func() bool {
		got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, paris))
		return len(got) == 1 && got[0] == "198.51.100.2" &&
			s.HasMetric(t, `coredns_meridian_cluster_state{cluster="member-2",state="up"}`, "1")
	})
}

// testStartupTimeout starts a second meridian on member-1 and member-dead,
// whose API server accepts no connection (a listener never accepted on),
// with startup_timeout 3s and stale_after far beyond it: readiness waits
// for the timeout, then member-dead is reported stale, and member-1
// answers (docs/kubernetes-source.md, "Readiness").
func testStartupTimeout(t *testing.T, f *federation) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	cfg := clientcmdapi.NewConfig()
	m1 := f.kubecfg.Contexts["member-1"]
	cfg.Clusters["member-1"] = f.kubecfg.Clusters[m1.Cluster].DeepCopy()
	cfg.Clusters["member-dead"] = cfg.Clusters["member-1"].DeepCopy()
	cfg.Clusters["member-dead"].Server = "https://" + dead.Addr().String()
	for _, m := range []string{"member-1", "member-dead"} {
		cfg.AuthInfos[m] = &clientcmdapi.AuthInfo{Token: f.tokens["member-1"]}
		cfg.Contexts[m] = &clientcmdapi.Context{Cluster: m, AuthInfo: m}
	}
	cfg.CurrentContext = "member-1"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	s := startMeridian(t, path, "startup_timeout 3s", "stale_after 60s", "down_after 120s")
	if s.ReadyAfter < 3*time.Second {
		t.Errorf("ready after %v, before startup_timeout 3s, though member-dead never synced", s.ReadyAfter)
	}
	e2eutil.Eventually(t, 10*time.Second, "member-dead stale", func() bool {
		return s.HasMetric(t, `coredns_meridian_cluster_state{cluster="member-dead",state="stale"}`, "1")
	})
	if !strings.Contains(s.Out.String(), `cluster "member-dead" has not synced after 3s`) {
		t.Errorf("the timeout is not logged:\n%s", s.Out)
	}
	if got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, chi)); len(got) != 1 || got[0] != "192.0.2.1" {
		t.Errorf("member-1's answer %v, want 192.0.2.1", got)
	}
	t.Logf("ready after %v with member-dead unsynced", s.ReadyAfter)
}

package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestSecretsStaySecret runs Meridian on three real API servers with every
// kind of credential a kubeconfig holds (issue 16, item 9): member-1 a
// valid ServiceAccount token, member-2 a client certificate and key (which
// the harness's API servers do not trust: refused), member-3 a username
// and password (refused too), and then member-1 a wrong token (a
// kubeconfig rewritten while running). It asks DNS questions, the explain
// endpoint and the status page, scrapes the metrics, and greps all of it
// and the process's whole log for every secret: the tokens, the password,
// the key (PEM and its base64 body). The clusters' names must be there, so
// that the grep reads the right outputs.
func TestSecretsStaySecret(t *testing.T) {
	f := startFederation(t, 3)
	fed := map[string]string{fedLabel: "myfed"}
	for _, m := range members[:3] {
		addNode(t, f.admin[m.name], m)
		addService(t, f.admin[m.name], m, "nginx", fed, 3)
	}
	certPEM, keyPEM := selfSigned(t)
	const password, wrongToken = "p4ss-Meridian-never-prints", "wrong-token-Meridian-never-prints"
	write := func(path, member1Token string) {
		cfg := clientcmdapi.NewConfig()
		for _, m := range []string{"member-1", "member-2", "member-3"} {
			cfg.Clusters[m] = f.kubecfg.Clusters[f.kubecfg.Contexts[m].Cluster].DeepCopy()
			cfg.Contexts[m] = &clientcmdapi.Context{Cluster: m, AuthInfo: m}
		}
		cfg.AuthInfos["member-1"] = &clientcmdapi.AuthInfo{Token: member1Token}
		cfg.AuthInfos["member-2"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
		cfg.AuthInfos["member-3"] = &clientcmdapi.AuthInfo{Username: "meridian", Password: password}
		cfg.CurrentContext = "member-1"
		b, err := clientcmd.Write(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		e2eutil.WriteFile(t, path, string(b))
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	write(kubeconfig, f.tokens["member-1"])
	db := filepath.Join(e2eutil.RepoRoot(), "testdata", "geoip", "meridian-test-city.mmdb")
	s := e2eutil.Start(t, func(p e2eutil.Ports) string {
		return fmt.Sprintf(`example.com:%d {
    bind 127.0.0.1
    meridian {
        federation myfed
        kubeconfig %s
        geoip %s
        startup_timeout 5s
        stale_after 2s
        down_after 4s
        status 127.0.0.1:%d
    }
    prometheus 127.0.0.1:%d
    ready 127.0.0.1:%d
    errors
}
`, p.DNS, kubeconfig, db, p.Status, p.Metrics, p.Ready)
	})
	var outputs []string
	collect := func() {
		for _, q := range []string{"", "explain?name=" + nginx + "&client=81.0.0.0/24", "explain?name=nginx.default.myfed.svc.asia-east1.example.com.&type=TXT"} {
			resp, err := http.Get("http://" + s.Status + "/" + q)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			outputs = append(outputs, string(b))
		}
		for _, qt := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeSRV} {
			outputs = append(outputs, s.Ask(t, "udp", nginx, qt, "81.0.0.0/24").String())
		}
		outputs = append(outputs, s.Scrape(t))
	}
	e2eutil.Eventually(t, 30*time.Second, "member-1 answers", func() bool {
		got := e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, chi))
		return len(got) == 1 && got[0] == "192.0.2.1"
	})
	collect()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("meridian output:\n%s", s.Out.String())
		}
	})
	write(kubeconfig, wrongToken) // member-1 now refuses Meridian too
	e2eutil.Eventually(t, 30*time.Second, "member-1 refused", func() bool {
		return strings.Contains(s.Out.String(), `cluster "member-1" is down`)
	})
	collect()
	outputs = append(outputs, s.Out.String())
	all := strings.Join(outputs, "\n")

	keyBody := strings.Join(strings.Split(strings.TrimSpace(string(keyPEM)), "\n")[1:2], "")
	for what, secret := range map[string]string{
		"member-1's token": f.tokens["member-1"], "the wrong token": wrongToken, "the password": password,
		"the key (PEM)": string(keyPEM), "the key's base64": keyBody,
		"the key data as a kubeconfig holds it": base64.StdEncoding.EncodeToString(keyPEM)[:40],
	} {
		if secret != "" && strings.Contains(all, secret) {
			i := strings.Index(all, secret)
			t.Errorf("%s appears in Meridian's outputs: ...%s...", what, all[max(0, i-120):min(len(all), i+len(secret)+40)])
		}
	}
	for _, name := range []string{"member-1", "member-2", "member-3"} {
		if !strings.Contains(all, name) {
			t.Errorf("%s is in none of the outputs: the grep reads the wrong ones", name)
		}
	}
	t.Logf("%d bytes of logs, pages, replies and metrics read; no secret in them", len(all))
}

// selfSigned returns a client certificate and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meridian"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

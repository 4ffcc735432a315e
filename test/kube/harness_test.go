// Package kube proves the Kubernetes source end to end: real kube-apiserver
// and etcd processes started by hack/kube/harness.sh on loopback, the real
// meridian binary watching them through a kubeconfig whose tokens belong to
// the ServiceAccount of deploy/rbac.yaml, and DNS over real sockets.
package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// federation is N member clusters started by the harness.
type federation struct {
	dir     string
	admin   map[string]*kubernetes.Clientset // by context (member-i)
	kubecfg *clientcmdapi.Config             // the harness's admin kubeconfig
	tokens  map[string]string                // meridian ServiceAccount token by context
	stdin   io.WriteCloser                   // the harness stops when it closes
	marker  string                           // BenchmarkScale: written once the kept data is complete
}

// startFederation starts n API servers sharing one etcd and applies
// deploy/rbac.yaml to each. It stops them when the test ends.
func startFederation(t testing.TB, n int, harnessArgs ...string) *federation {
	t.Helper()
	if os.Getenv("MERIDIAN_KUBE_TESTS") == "" {
		e2eutil.RequireRealParts(t, "set MERIDIAN_KUBE_TESTS=1 (make test does) to run real API servers")
	}
	f := &federation{dir: t.TempDir(), admin: map[string]*kubernetes.Clientset{}, tokens: map[string]string{}}
	cmd := exec.Command(filepath.Join(e2eutil.RepoRoot(), "hack", "kube", "harness.sh"), append([]string{"up", fmt.Sprint(n), f.dir}, harnessArgs...)...)
	var out e2eutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The harness stops everything when this pipe closes: if the test
	// binary dies, the API servers die with it.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.stdin = stdin // held open (and so not closed by a finalizer) until cleanup
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		f.stdin.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("harness did not stop within 30s")
		}
		if t.Failed() {
			t.Logf("harness output:\n%s", out.String())
		}
	})
	e2eutil.Eventually(t, 3*time.Minute, "harness ready", func() bool {
		if _, err := os.Stat(filepath.Join(f.dir, "ready")); err == nil {
			return true
		}
		select {
		case <-done: // gave up: say so now, not at the deadline
			t.Fatalf("harness exited before its clusters were ready (%v)", cmd.ProcessState)
		default:
		}
		return false
	})
	cfg, err := clientcmd.LoadFromFile(filepath.Join(f.dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	f.kubecfg = cfg
	for name := range cfg.Contexts {
		rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		rc.QPS, rc.Burst = 1000, 2000 // the scale benchmark creates 300,000 objects
		rc.ContentType = "application/vnd.kubernetes.protobuf"
		f.admin[name] = kubernetes.NewForConfigOrDie(rc)
		f.apply(t, name, "deploy/rbac.yaml")
		f.tokens[name] = f.token(t, name)
	}
	return f
}

// strict decodes manifests and rejects unknown or duplicate fields, which
// a plain decode would drop before the API server could see them.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// apply creates the objects of the manifest at path (from the repository's
// top folder) in one member; objects that already exist are left as they
// are.
func (f *federation) apply(t testing.TB, member, path string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e2eutil.RepoRoot(), path))
	if err != nil {
		t.Fatal(err)
	}
	ctx, c := context.Background(), f.admin[member]
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			err = create(ctx, c.CoreV1().Namespaces(), o)
		case *corev1.ServiceAccount:
			err = create(ctx, c.CoreV1().ServiceAccounts(o.Namespace), o)
		case *corev1.ConfigMap:
			err = create(ctx, c.CoreV1().ConfigMaps(o.Namespace), o)
		case *corev1.Service:
			err = create(ctx, c.CoreV1().Services(o.Namespace), o)
		case *appsv1.Deployment:
			err = create(ctx, c.AppsV1().Deployments(o.Namespace), o)
		case *policyv1.PodDisruptionBudget:
			err = create(ctx, c.PolicyV1().PodDisruptionBudgets(o.Namespace), o)
		case *rbacv1.ClusterRole:
			err = create(ctx, c.RbacV1().ClusterRoles(), o)
		case *rbacv1.ClusterRoleBinding:
			err = create(ctx, c.RbacV1().ClusterRoleBindings(), o)
		default:
			t.Fatalf("%s: unexpected %T", path, obj)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s: applying %s: %v", member, path, err)
		}
	}
}

// creator is the Create method of every typed client.
type creator[T any] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
}

func create[T any](ctx context.Context, c creator[T], o T) error {
	_, err := c.Create(ctx, o, metav1.CreateOptions{})
	return err
}

// token asks the API server for a token of the meridian ServiceAccount.
func (f *federation) token(t testing.TB, member string) string {
	t.Helper()
	return f.tokenOf(t, member, "meridian", "meridian")
}

// tokenOf asks the API server for a token of ServiceAccount ns/name.
func (f *federation) tokenOf(t testing.TB, member, ns, name string) string {
	t.Helper()
	exp := int64(3600)
	tr, err := f.admin[member].CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: token request for %s/%s: %v", member, ns, name, err)
	}
	return tr.Status.Token
}

// writeKubeconfig writes a kubeconfig for meridian with the given members
// only, each with the meridian ServiceAccount's token.
func (f *federation) writeKubeconfig(t testing.TB, path string, members ...string) {
	t.Helper()
	tokens := make(map[string]string, len(members))
	for _, m := range members {
		tokens[m] = f.tokens[m]
	}
	f.writeKubeconfigTokens(t, path, tokens)
}

// writeKubeconfigTokens writes a kubeconfig with one context per member,
// named after it, authenticated with its token.
func (f *federation) writeKubeconfigTokens(t testing.TB, path string, tokens map[string]string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	var members []string
	for m, token := range tokens {
		kc := f.kubecfg.Contexts[m]
		cfg.Clusters[m] = f.kubecfg.Clusters[kc.Cluster].DeepCopy()
		cfg.AuthInfos[m] = &clientcmdapi.AuthInfo{Token: token}
		cfg.Contexts[m] = &clientcmdapi.Context{Cluster: m, AuthInfo: m}
		members = append(members, m)
	}
	slices.Sort(members)
	cfg.CurrentContext = members[0]
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	e2eutil.WriteFile(t, path, string(b))
}

// kill stops a member's API server with SIGKILL.
func (f *federation) kill(t testing.TB, member string) {
	t.Helper()
	if err := f.killErr(member); err != nil {
		t.Fatal(err)
	}
}

// killErr is kill for a goroutine other than the test's.
func (f *federation) killErr(member string) error {
	b, err := os.ReadFile(filepath.Join(f.dir, member, "pid"))
	if err != nil {
		return err
	}
	var pid int
	fmt.Sscan(strings.TrimSpace(string(b)), &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s (%d): %w", member, pid, err)
	}
	return nil
}

// restart starts a killed member's API server again, same flags and port.
func (f *federation) restart(t testing.TB, member string) {
	t.Helper()
	if err := f.restartErr(member); err != nil {
		t.Fatal(err)
	}
}

// restartErr is restart for a goroutine other than the test's.
func (f *federation) restartErr(member string) error {
	cmd := exec.Command(filepath.Join(f.dir, member, "start.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restart %s: %w\n%s", member, err, out)
	}
	return nil
}

// pin binds the harness's API servers and etcd to one CPU (e2eutil.Pin).
func (f *federation) pin(t testing.TB, cpu int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(f.dir, "*", "pid"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		e2eutil.Pin(t, pid, cpu)
	}
}

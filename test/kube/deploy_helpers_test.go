package kube

// Helpers of TestDeploy and TestResolverStubDomain: clients with
// ServiceAccount tokens, the read-only check, container environments and
// Corefile checks.

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// clientAs is a client with a TokenRequest token of ServiceAccount ns/name.
func (f *federation) clientAs(t testing.TB, member, ns, name string) kubernetes.Interface {
	t.Helper()
	token := f.tokenOf(t, member, ns, name)
	cl := f.kubecfg.Clusters[f.kubecfg.Contexts[member].Cluster]
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: cl.Server, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: cl.CertificateAuthority, CAData: cl.CertificateAuthorityData}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// checkReadOnly checks that cs may get, list and watch Services,
// EndpointSlices and Nodes, and may do nothing else that was tried.
func checkReadOnly(t *testing.T, cs kubernetes.Interface, who string) {
	t.Helper()
	ctx, all := context.Background(), metav1.ListOptions{}
	// The authorizer learns of new bindings through a watch.
	e2eutil.Eventually(t, 30*time.Second, who+" lists nodes", func() bool {
		_, err := cs.CoreV1().Nodes().List(ctx, all)
		return err == nil
	})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, c := range []struct {
		what    string
		allowed bool
		do      func() error
	}{
		{"list services", true, func() error { _, err := cs.CoreV1().Services("").List(ctx, all); return err }},
		{"get a service", true, func() error { _, err := cs.CoreV1().Services(ns).Get(ctx, resolver, metav1.GetOptions{}); return err }},
		{"list endpointslices", true, func() error { _, err := cs.DiscoveryV1().EndpointSlices("").List(ctx, all); return err }},
		{"watch endpointslices", true, func() error {
			w, err := cs.DiscoveryV1().EndpointSlices("").Watch(ctx, all)
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"list ingresses", true, func() error { _, err := cs.NetworkingV1().Ingresses("").List(ctx, all); return err }},
		{"list secrets", false, func() error { _, err := cs.CoreV1().Secrets("").List(ctx, all); return err }},
		{"get a configmap", false, func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, envConfig, metav1.GetOptions{})
			return err
		}},
		{"create a service", false, func() error {
			_, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
			return err
		}},
		{"delete a node", false, func() error { return cs.CoreV1().Nodes().Delete(ctx, "x", metav1.DeleteOptions{}) }},
	} {
		if err := c.do(); c.allowed && err != nil || !c.allowed && !apierrors.IsForbidden(err) {
			t.Errorf("%s: %s: %v, want allowed %v", who, c.what, err, c.allowed)
		}
	}
	// Writes to what it reads, asked of the authorizer so nothing changes if one is allowed.
	for _, r := range [][2]string{{"", "services"}, {"", "nodes"}, {"discovery.k8s.io", "endpointslices"}, {"networking.k8s.io", "ingresses"},
		{"gateway.networking.k8s.io", "gateways"}, {"gateway.networking.k8s.io", "httproutes"}, {"gateway.networking.k8s.io", "grpcroutes"}} {
		for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
			ra := &authzv1.ResourceAttributes{Verb: verb, Group: r[0], Resource: r[1]}
			rev, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
				&authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: ra}}, metav1.CreateOptions{})
			if err != nil || rev.Status.Allowed {
				t.Errorf("%s: %s %s: allowed, or review failed: %v", who, verb, r[1], err)
			}
		}
	}
}

// containerEnv is the environment the kubelet would give c: the keys of
// its envFrom ConfigMaps as the API server holds them, then env in order,
// $(VAR) expanded from the variables before it, status.podIP as podIP.
func containerEnv(t *testing.T, cs kubernetes.Interface, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil || from.Prefix != "" {
			t.Fatalf("%s: envFrom %+v: want a ConfigMap, no prefix", c.Name, from)
		}
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), from.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: envFrom: %v", c.Name, err)
		}
		maps.Copy(env, cm.Data)
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = ref.ReplaceAllStringFunc(e.Value, func(r string) string {
				if v, ok := env[r[2:len(r)-1]]; ok {
					return v
				}
				return r
			})
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP":
			env[e.Name] = podIP
		default:
			t.Fatalf("%s: env %s from %+v: not understood here", c.Name, e.Name, e.ValueFrom)
		}
	}
	return env
}

// checkCorefile checks that env sets every {$VAR} the Corefile text uses,
// each to a value with nothing left to expand, and that CoreDNS's parser,
// in that environment, reads server blocks for keys and no unknown
// directive.
func checkCorefile(t *testing.T, name, text string, env map[string]string, keys ...string) {
	t.Helper()
	var code []string
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code = append(code, line)
		}
	}
	var used []string
	for _, m := range regexp.MustCompile(`\{\$([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(strings.Join(code, ""), -1) {
		used = append(used, m[1])
	}
	if len(used) == 0 {
		t.Fatalf("%s uses no {$VAR}", name)
	}
	slices.Sort(used)
	for _, u := range slices.Compact(used) {
		v := env[u]
		if v == "" || strings.Contains(v, "$(") {
			t.Errorf("%s uses {$%s}, which the container sets to %q", name, u, v)
		}
		t.Setenv(u, v)
	}
	blocks, err := caddyfile.Parse(name, strings.NewReader(text), append(slices.Clone(dnsserver.Directives), "meridian"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var got []string
	for _, b := range blocks {
		got = append(got, b.Keys...)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("%s serves %v, want %v", name, got, keys)
	}
	// One token per {$VAR}, spaces and all.
	for _, b := range blocks {
		toks := b.Tokens["meridian"]
		for i, tok := range toks[:max(len(toks)-1, 0)] {
			if tok.Text == "upstream" && toks[i+1].Text != env["MERIDIAN_UPSTREAMS"] {
				t.Errorf("%s: upstream %q, want one argument %q", name, toks[i+1].Text, env["MERIDIAN_UPSTREAMS"])
			}
		}
	}
}

// checkEnv checks the Corefiles against the environment of the resolver
// container res (ConfigMap meridian-resolver's Corefile, as the API server
// holds it) and of CoreDNS's container dns (stub-domain.Corefile), and
// returns both environments.
func checkEnv(t *testing.T, c kubernetes.Interface, res, dns corev1.Container) (resEnv, dnsEnv map[string]string) {
	t.Helper()
	cm, err := c.CoreV1().ConfigMaps(ns).Get(context.Background(), resolver, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resEnv, dnsEnv = containerEnv(t, c, res), containerEnv(t, c, dns)
	checkCorefile(t, "resolver Corefile", cm.Data["Corefile"], resEnv, "example.org:5301", "myfederation.svc.cluster.local:5301")
	checkCorefile(t, "stub-domain.Corefile", readRepo(t, "deploy/resolver/stub-domain.Corefile"), dnsEnv, "example.org", "myfederation.svc.cluster.local")
	return resEnv, dnsEnv
}

func decode[T any](t *testing.T, name, doc string) T {
	t.Helper()
	obj, _, err := strict.Decode([]byte(doc), nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	o, ok := obj.(T)
	if !ok {
		t.Fatalf("%s: %T", name, obj)
	}
	return o
}

func readRepo(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e2eutil.RepoRoot(), path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func containerNames(spec corev1.PodSpec) []string {
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

func volume(spec corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

package kube

import (
	"context"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
	appsv1 "k8s.io/api/apps/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// deployFiles says how TestDeploy covers each file under deploy/: a file
// missing here fails the test.
var deployFiles = map[string]string{
	"deploy/rbac.yaml":                              "objects",
	"deploy/resolver/rbac.yaml":                     "objects",
	"deploy/resolver/configmap.yaml":                "objects",
	"deploy/resolver/deployment.yaml":               "objects",
	"deploy/resolver/sidecar-patch.yaml":            "patch",
	"deploy/resolver/deployment-coredns-patch.yaml": "patch",
	"deploy/resolver/stub-domain.Corefile":          "corefile",
	"deploy/Dockerfile":                             "image", // built by make image, not here
	"deploy/Dockerfile.dockerignore":                "image",
}

const (
	ns        = "kube-system"
	podIP     = "10.0.0.7" // stands in for status.podIP in containerEnv
	resolver  = "meridian-resolver"
	envConfig = "meridian-resolver-env"
)

// stockCoreDNS is a cluster's CoreDNS Deployment as kubeadm makes it, the
// parts the patches meet.
const stockCoreDNS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 2
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      containers:
        - name: coredns
          image: coredns/coredns:1.12.0
          args: ["-conf", "/etc/coredns/Corefile"]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
            - {name: metrics, containerPort: 9153, protocol: TCP}
          livenessProbe: {httpGet: {path: /health, port: 8080}, initialDelaySeconds: 60}
          readinessProbe: {httpGet: {path: /ready, port: 8181}}
          volumeMounts: [{name: config-volume, mountPath: /etc/coredns, readOnly: true}]
      volumes:
        - name: config-volume
          configMap: {name: coredns, items: [{key: Corefile, path: Corefile}]}
`

// TestDeploy applies every manifest under deploy/ to a real API server:
// the objects are created, the patches merge into a stock CoreDNS
// Deployment, the ServiceAccounts read what the resolver watches and
// nothing more, and each variant's containers set every variable the
// Corefiles use.
func TestDeploy(t *testing.T) {
	f := startFederation(t, 1)
	const m = "member-1"
	ctx, c := context.Background(), f.admin[m]
	checkDeployFiles(t)
	e2eutil.Eventually(t, 30*time.Second, "namespace kube-system", func() bool {
		_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err == nil
	})
	// Every cluster has CoreDNS's ServiceAccount; on its own it cannot read Nodes.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: ns}}
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.clientAs(t, m, ns, "coredns").CoreV1().Nodes().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("coredns lists nodes before deploy/resolver/rbac.yaml: %v, want forbidden", err)
	}
	for _, p := range slices.Sorted(maps.Keys(deployFiles)) {
		if deployFiles[p] == "objects" {
			f.apply(t, m, p)
		}
	}

	t.Run("rbac", func(t *testing.T) { testRBAC(t, f, m) })
	t.Run("sidecar", func(t *testing.T) { testSidecar(t, c) })
	t.Run("deployment", func(t *testing.T) { testDeployment(t, c) })
}

// testRBAC checks that the resolver's ClusterRole is the authoritative
// servers' one and that every ServiceAccount bound to either may read what
// Meridian watches, and nothing more.
func testRBAC(t *testing.T, f *federation, m string) {
	ctx, c := context.Background(), f.admin[m]
	reader, err := c.RbacV1().ClusterRoles().Get(ctx, "meridian-reader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role, err := c.RbacV1().ClusterRoles().Get(ctx, resolver, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(role.Rules, reader.Rules) {
		t.Errorf("ClusterRole meridian-resolver rules %v, want meridian-reader's %v", role.Rules, reader.Rules)
	}
	for _, sa := range [][2]string{{"meridian", "meridian"}, {ns, "coredns"}, {ns, resolver}} {
		checkReadOnly(t, f.clientAs(t, m, sa[0], sa[1]), sa[0]+"/"+sa[1])
	}
}

// testSidecar applies sidecar-patch.yaml: the resolver joins CoreDNS's pod,
// unprobed for readiness, and the stub domain forwards to it.
func testSidecar(t *testing.T, c kubernetes.Interface) {
	spec := patchCoreDNS(t, c, "deploy/resolver/sidecar-patch.yaml")
	if got := containerNames(spec); !slices.Equal(got, []string{"coredns", resolver}) {
		t.Fatalf("containers %v, want coredns and %s", got, resolver)
	}
	res := spec.Containers[1]
	checkResolverContainer(t, spec, res)
	if res.ReadinessProbe != nil {
		t.Errorf("the sidecar has a readiness probe: it would gate the CoreDNS pod")
	}
	resEnv, dnsEnv := checkEnv(t, c, res, spec.Containers[0])
	if want := net.JoinHostPort(resEnv["MERIDIAN_BIND"], resEnv["MERIDIAN_PORT"]); dnsEnv["MERIDIAN_RESOLVER"] != want || want != "127.0.0.1:5301" {
		t.Errorf("stub domain forwards to %q, the sidecar listens on %q: want both 127.0.0.1:5301", dnsEnv["MERIDIAN_RESOLVER"], want)
	}
}

// testDeployment checks the Deployment variant: deployment.yaml's objects
// and deployment-coredns-patch.yaml.
func testDeployment(t *testing.T, c kubernetes.Interface) {
	spec := patchCoreDNS(t, c, "deploy/resolver/deployment-coredns-patch.yaml")
	if got := containerNames(spec); !slices.Equal(got, []string{"coredns"}) {
		t.Fatalf("containers %v, want coredns only", got)
	}
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), resolver, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ps := d.Spec.Template.Spec
	if *d.Spec.Replicas != 2 || ps.ServiceAccountName != resolver || !spreadsOverNodes(ps) {
		t.Errorf("%d replicas as %q, spread over nodes %v: want 2 as %s, spread", *d.Spec.Replicas, ps.ServiceAccountName, spreadsOverNodes(ps), resolver)
	}
	if got := containerNames(ps); !slices.Equal(got, []string{resolver}) {
		t.Fatalf("containers %v, want %s only", got, resolver)
	}
	res := ps.Containers[0]
	checkResolverContainer(t, ps, res)
	checkProbe(t, "readiness", res.ReadinessProbe, "/ready", 8182)
	checkSameAsSidecar(t, res)
	checkService(t, c, d.Spec.Template.Labels)
	resEnv, dnsEnv := checkEnv(t, c, res, spec.Containers[0])
	if resEnv["MERIDIAN_BIND"] != podIP {
		t.Errorf("MERIDIAN_BIND %q, want the pod's IP", resEnv["MERIDIAN_BIND"])
	}
	if host, port, err := net.SplitHostPort(dnsEnv["MERIDIAN_RESOLVER"]); err != nil || net.ParseIP(host) == nil || port != "53" {
		t.Errorf("MERIDIAN_RESOLVER %q: want the Service's IP and port 53", dnsEnv["MERIDIAN_RESOLVER"])
	}
}

// checkDeployFiles fails for a file under deploy/ that deployFiles does not list.
func checkDeployFiles(t *testing.T) {
	root := e2eutil.RepoRoot()
	var found []string
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(found)
	if want := slices.Sorted(maps.Keys(deployFiles)); !slices.Equal(found, want) {
		t.Fatalf("files under deploy/: %v; TestDeploy covers %v", found, want)
	}
}

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
	for _, r := range [][2]string{{"", "services"}, {"", "nodes"}, {"discovery.k8s.io", "endpointslices"}} {
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

// patchCoreDNS creates the stock CoreDNS Deployment, deleted when the test
// ends, applies the strategic-merge patch at path to it, and checks that
// CoreDNS's own container and volume are as they were, plus the env.
func patchCoreDNS(t *testing.T, c kubernetes.Interface, path string) corev1.PodSpec {
	t.Helper()
	ctx, d := context.Background(), decode[*appsv1.Deployment](t, "stockCoreDNS", stockCoreDNS)
	stock := d.Spec.Template.Spec.Containers[0]
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bg := metav1.DeletePropagationBackground
		if err := c.AppsV1().Deployments(ns).Delete(ctx, "coredns", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
			t.Errorf("deleting coredns: %v", err)
		}
	})
	patch, err := yaml.YAMLToJSON([]byte(readRepo(t, path)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	d, err = c.AppsV1().Deployments(ns).Patch(ctx, "coredns", types.StrategicMergePatchType, patch,
		metav1.PatchOptions{FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	spec := d.Spec.Template.Spec
	dns := spec.Containers[0]
	if dns.Name != "coredns" || !slices.Equal(dns.Args, stock.Args) || !equality.Semantic.DeepEqual(dns.VolumeMounts, stock.VolumeMounts) {
		t.Errorf("%s: coredns container now %s %v %v, want its args and mounts kept", path, dns.Name, dns.Args, dns.VolumeMounts)
	}
	if len(dns.EnvFrom) != 1 || dns.EnvFrom[0].ConfigMapRef == nil || dns.EnvFrom[0].ConfigMapRef.Name != envConfig ||
		!slices.ContainsFunc(dns.Env, func(e corev1.EnvVar) bool { return e.Name == "MERIDIAN_RESOLVER" }) {
		t.Errorf("%s: coredns container env %v %v, want %s and MERIDIAN_RESOLVER", path, dns.EnvFrom, dns.Env, envConfig)
	}
	if volume(spec, "config-volume") == nil {
		t.Errorf("%s: CoreDNS's config-volume is gone", path)
	}
	return spec
}

// checkResolverContainer checks what both variants' resolver containers share.
func checkResolverContainer(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	if !slices.Equal(c.Args, []string{"-conf", "/etc/meridian/Corefile"}) {
		t.Errorf("args %v", c.Args)
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		v := volume(spec, vm.Name)
		mounted = mounted || vm.MountPath == "/etc/meridian" && v != nil && v.ConfigMap != nil && v.ConfigMap.Name == resolver
	}
	if !mounted {
		t.Errorf("ConfigMap %s not mounted at /etc/meridian: %v", resolver, c.VolumeMounts)
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("securityContext %+v: want non-root, read-only root, no privilege escalation, no capabilities", sc)
	}
	checkProbe(t, "liveness", c.LivenessProbe, "/health", 8092)
}

func checkProbe(t *testing.T, what string, p *corev1.Probe, path string, port int) {
	t.Helper()
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.IntValue() != port {
		t.Errorf("%s probe %+v, want GET %s on %d", what, p, path, port)
	}
}

// checkSameAsSidecar checks that the Deployment's container is the sidecar's
// but for where it listens.
func checkSameAsSidecar(t *testing.T, c corev1.Container) {
	t.Helper()
	p := decode[*appsv1.Deployment](t, "sidecar-patch.yaml", readRepo(t, "deploy/resolver/sidecar-patch.yaml"))
	i := slices.IndexFunc(p.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == resolver })
	if i < 0 {
		t.Fatalf("sidecar-patch.yaml has no %s container", resolver)
	}
	s := p.Spec.Template.Spec.Containers[i]
	for what, same := range map[string]bool{
		"image":           s.Image == c.Image,
		"envFrom":         equality.Semantic.DeepEqual(s.EnvFrom, c.EnvFrom),
		"resources":       equality.Semantic.DeepEqual(s.Resources, c.Resources),
		"securityContext": equality.Semantic.DeepEqual(s.SecurityContext, c.SecurityContext),
		"volumeMounts":    equality.Semantic.DeepEqual(s.VolumeMounts, c.VolumeMounts),
		"livenessProbe":   s.LivenessProbe != nil && c.LivenessProbe != nil && equality.Semantic.DeepEqual(s.LivenessProbe.ProbeHandler, c.LivenessProbe.ProbeHandler),
	} {
		if !same {
			t.Errorf("deployment.yaml and sidecar-patch.yaml differ in the resolver's %s", what)
		}
	}
}

// checkService checks that the Service and the PodDisruptionBudget select
// the resolver's pods, and the Service sends port 53 to them.
func checkService(t *testing.T, c kubernetes.Interface, pod map[string]string) {
	t.Helper()
	ctx := context.Background()
	svc, err := c.CoreV1().Services(ns).Get(ctx, resolver, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range svc.Spec.Ports {
		got = append(got, string(p.Protocol)+" "+p.TargetPort.String())
		if p.Port != 53 {
			t.Errorf("Service port %d, want 53", p.Port)
		}
	}
	if !slices.Equal(got, []string{"UDP 5301", "TCP 5301"}) || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod)) {
		t.Errorf("Service targets %v, selector %v: want UDP and TCP 5301 of pods %v", got, svc.Spec.Selector, pod)
	}
	pdb, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, resolver, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || !sel.Matches(labels.Set(pod)) {
		t.Errorf("PodDisruptionBudget %+v: want minAvailable 1 of pods %v", pdb.Spec, pod)
	}
}

func spreadsOverNodes(spec corev1.PodSpec) bool {
	return slices.ContainsFunc(spec.TopologySpreadConstraints, func(c corev1.TopologySpreadConstraint) bool {
		return c.TopologyKey == "kubernetes.io/hostname"
	})
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

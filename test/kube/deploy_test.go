package kube

import (
	"context"
	"io/fs"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
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
	"deploy/deploy.go":                              "go", // embeds rbac.yaml for meridianctl: TestMeridianctl
}

// deployTrees are the folders under deploy/ whose every file another test
// covers.
var deployTrees = map[string]string{
	"deploy/helm/":       "chart",     // TestChart here, TestChartCorefile and TestChartValuesDocumented in plugin/
	"deploy/prometheus/": "alerts",    // deploy/prometheus's own tests (promtool), TestPrometheus in test/e2e
	"deploy/grafana/":    "dashboard", // TestDashboardFile in deploy/grafana, TestPrometheus in test/e2e
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
			rel = filepath.ToSlash(rel)
			for tree := range deployTrees {
				if strings.HasPrefix(rel, tree) {
					return nil
				}
			}
			found = append(found, rel)
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

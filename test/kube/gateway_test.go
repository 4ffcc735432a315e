package kube

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	"sigs.k8s.io/yaml"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

const api = "api.example.com."

// TestKubeGateway runs Meridian against three real API servers, two with
// the Gateway API's standard CRDs (installed from the module, as shipped)
// and one without, whose api.example.com is still an Ingress of the same
// namespace and name: one federated host across kinds. A route that stops
// being Accepted leaves the answers; the cluster without the CRDs serves
// its Ingress, shows the missing kinds and picks them up, without a
// restart, once the CRDs are installed.
func TestKubeGateway(t *testing.T) {
	ms := members[:3]
	f := startFederation(t, len(ms))
	fed := map[string]string{fedLabel: "myfed"}
	gw := map[string]gateway.Interface{}
	for _, m := range ms {
		c := f.admin[m.name]
		addNode(t, c, m)
		addService(t, c, m, "api", nil, 3) // the backend
	}
	for _, m := range ms[:2] {
		installGatewayCRDs(t, f, m.name)
		gw[m.name] = f.gatewayClient(t, m.name)
		addGateway(t, gw[m.name], ingressIP(m))
		addRoute(t, gw[m.name], fed, true)
	}
	addIngress(t, f.admin["member-3"], "default", "api", fed, ingressIP(ms[2]), api, "api")

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	f.writeKubeconfig(t, kubeconfig, "member-1", "member-2", "member-3")
	s := startMeridian(t, kubeconfig, "stale_after 3s", "down_after 8s")
	answer := func(t *testing.T, subnet string) []string {
		return e2eutil.Addrs(s.Ask(t, "udp", api, dns.TypeA, subnet))
	}
	expect := func(t *testing.T, what, subnet, want string) time.Duration {
		t.Helper()
		return e2eutil.Eventually(t, 40*time.Second, what, func() bool {
			return slices.Equal(answer(t, subnet), []string{want})
		})
	}

	t.Run("routes and an Ingress, one host", func(t *testing.T) {
		for _, tc := range []struct{ subnet, want string }{{chi, ingressIP(ms[0])}, {paris, ingressIP(ms[1])}, {taipei, ingressIP(ms[2])}} {
			expect(t, "client "+tc.subnet, tc.subnet, tc.want)
		}
	})

	t.Run("a cluster without the CRDs", func(t *testing.T) {
		for _, kind := range []string{"Gateway", "HTTPRoute", "GRPCRoute"} {
			if !s.HasMetric(t, `coredns_meridian_source_kind_unavailable{cluster="member-3",kind="`+kind+`"}`, "1") {
				t.Errorf("member-3's %s is not shown as unavailable:\n%s", kind, grep(s.Scrape(t), "kind_unavailable"))
			}
			if n := strings.Count(s.Out.String(), `cluster "member-3": `+kind+` objects are not read`); n != 1 {
				t.Errorf("member-3's missing %s is logged %d times, want once", kind, n)
			}
		}
		if strings.Contains(s.Scrape(t), `kind_unavailable{cluster="member-1"`) {
			t.Errorf("member-1 has the CRDs, but a kind is shown as unavailable")
		}
	})

	t.Run("a route no longer accepted", func(t *testing.T) {
		setAccepted(t, gw["member-1"], false)
		t.Logf("Chicago moved after %v", expect(t, "member-1's route not accepted: Europe", chi, ingressIP(ms[1])))
		setAccepted(t, gw["member-1"], true)
		t.Logf("Chicago back after %v", expect(t, "accepted again", chi, ingressIP(ms[0])))
	})

	t.Run("CRDs installed later are picked up", func(t *testing.T) {
		installGatewayCRDs(t, f, "member-3")
		e2eutil.Eventually(t, 40*time.Second, "member-3's kinds read", func() bool {
			return !strings.Contains(s.Scrape(t), `kind_unavailable{cluster="member-3"`)
		})
		if !strings.Contains(s.Out.String(), `cluster "member-3": HTTPRoute objects are read now`) {
			t.Errorf("the kind picked up is not logged:\n%s", s.Out)
		}
		expect(t, "the Ingress still answers", taipei, ingressIP(ms[2]))
	})
}

// gatewayCRDs are the standard CRDs Meridian reads, or that they refer to.
var gatewayCRDs = []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes"}

// installGatewayCRDs creates the Gateway API's standard CRDs, from the
// module's own config/crd/standard, in member, and waits until they serve.
func installGatewayCRDs(t testing.TB, f *federation, member string) {
	t.Helper()
	dir := filepath.Join(moduleDir(t, "sigs.k8s.io/gateway-api", ""), "config", "crd", "standard")
	var files []string
	for _, name := range gatewayCRDs {
		files = append(files, filepath.Join(dir, "gateway.networking.k8s.io_"+name+".yaml"))
	}
	installCRDs(t, f, member, files...)
	c := f.gatewayClient(t, member)
	e2eutil.Eventually(t, 30*time.Second, member+": Gateway API served", func() bool {
		_, err1 := c.GatewayV1().Gateways("").List(context.Background(), metav1.ListOptions{})
		_, err2 := c.GatewayV1().HTTPRoutes("").List(context.Background(), metav1.ListOptions{})
		_, err3 := c.GatewayV1().GRPCRoutes("").List(context.Background(), metav1.ListOptions{})
		return err1 == nil && err2 == nil && err3 == nil
	})
}

// moduleDir returns the folder of a Go module: the version go.mod
// requires (version ""), else the one named, downloaded from the module
// proxy like any dependency.
func moduleDir(t testing.TB, path, version string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-json", path)
	if version != "" {
		cmd = exec.Command("go", "mod", "download", "-json", path+"@"+version)
	}
	cmd.Dir = e2eutil.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("the folder of %s: %v (%s)", path, err, out)
	}
	return mod.Dir
}

// installCRDs creates the CRDs of files (YAML, one each) in member.
func installCRDs(t testing.TB, f *federation, member string, files ...string) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(f.restConfig(t, member))
	if err != nil {
		t.Fatal(err)
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		if _, err := crds.Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: CRD %s: %v", member, filepath.Base(file), err)
		}
	}
}

// restConfig is the harness's admin configuration of member.
func (f *federation) restConfig(t testing.TB, member string) *rest.Config {
	t.Helper()
	rc, err := clientcmd.NewNonInteractiveClientConfig(*f.kubecfg, member, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// gatewayClient is an admin Gateway API client of member.
func (f *federation) gatewayClient(t testing.TB, member string) gateway.Interface {
	t.Helper()
	return gateway.NewForConfigOrDie(f.restConfig(t, member))
}

// addGateway creates the Gateway infra/edge listening for *.example.com,
// Programmed at ip, as a Gateway controller would say.
func addGateway(t testing.TB, c gateway.Interface, ip string) {
	t.Helper()
	ctx := context.Background()
	host := gatewayv1.Hostname("*.example.com")
	g := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "edge"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "test", Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType, Hostname: &host}}}}
	g, err := c.GatewayV1().Gateways("default").Create(ctx, g, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	g.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: ip}}
	g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", LastTransitionTime: metav1.Now()}}
	if _, err := c.GatewayV1().Gateways("default").UpdateStatus(ctx, g, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("gateway status: %v", err)
	}
}

// addRoute creates the HTTPRoute default/api for api.example.com on the
// Gateway edge, backend api, Accepted or not.
func addRoute(t testing.TB, c gateway.Interface, labels map[string]string, accepted bool) {
	t.Helper()
	ctx := context.Background()
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "api", Labels: labels}}
	r.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "edge"}}
	r.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(strings.TrimSuffix(api, "."))}
	r.Spec.Rules = []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: "api", Port: ptr(gatewayv1.PortNumber(80))}}}}}}
	if _, err := c.GatewayV1().HTTPRoutes("default").Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatalf("httproute: %v", err)
	}
	setAccepted(t, c, accepted)
}

// setAccepted sets the Accepted condition of the route default/api.
func setAccepted(t testing.TB, c gateway.Interface, accepted bool) {
	t.Helper()
	ctx := context.Background()
	r, err := c.GatewayV1().HTTPRoutes("default").Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := metav1.ConditionFalse
	if accepted {
		st = metav1.ConditionTrue
	}
	r.Status.Parents = []gatewayv1.RouteParentStatus{{ParentRef: gatewayv1.ParentReference{Name: "edge"}, ControllerName: "test.meridian.dev/gateway",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: st, Reason: "Test", LastTransitionTime: metav1.Now()}}}}
	if _, err := c.GatewayV1().HTTPRoutes("default").UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

package kube

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

const shop = "shop.example.com."

// TestKubeIngress runs Meridian against three real API servers whose
// Ingresses claim shop.example.com: answers by client location, a backend
// going unready, a member whose RBAC refuses Ingresses (skipped, shown,
// then picked up without a restart once granted), and a second namespace
// claiming the host (reported, not answered).
func TestKubeIngress(t *testing.T) {
	ms := members[:3]
	f := startFederation(t, len(ms))
	fed := map[string]string{fedLabel: "myfed"}
	// member-3 may not read Ingresses yet: an older deploy/rbac.yaml.
	revoke(t, f.admin["member-3"], "networking.k8s.io")
	for _, m := range ms {
		c := f.admin[m.name]
		addNode(t, c, m)
		addService(t, c, m, "cart", nil, 3) // a backend: not federated itself
		addService(t, c, m, "web", nil, 3)
		addIngress(t, c, "default", "storefront", fed, ingressIP(m), shop, "cart", "web")
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	f.writeKubeconfig(t, kubeconfig, "member-1", "member-2", "member-3")
	s := startMeridian(t, kubeconfig, "stale_after 3s", "down_after 8s")

	answer := func(t *testing.T, subnet string) []string {
		return e2eutil.Addrs(s.Ask(t, "udp", shop, dns.TypeA, subnet))
	}
	expect := func(t *testing.T, what, subnet, want string) time.Duration {
		t.Helper()
		return e2eutil.Eventually(t, 40*time.Second, what, func() bool {
			got := answer(t, subnet)
			return len(got) == 1 && got[0] == want
		})
	}

	t.Run("a refused kind is skipped and shown", func(t *testing.T) {
		if !s.HasMetric(t, `coredns_meridian_source_kind_unavailable{cluster="member-3",kind="Ingress"}`, "1") {
			t.Errorf("member-3's Ingresses are not shown as unavailable:\n%s", grep(s.Scrape(t), "kind_unavailable"))
		}
		if n := strings.Count(s.Out.String(), `cluster "member-3": Ingress objects are not read`); n != 1 {
			t.Errorf("the refused kind is logged %d times, want once:\n%s", n, s.Out)
		}
		// The other members answer meanwhile: Taipei gets Europe.
		if got := answer(t, taipei); !slices.Equal(got, []string{ingressIP(ms[1])}) {
			t.Errorf("taipei: %v, want member-2's %s while member-3's Ingresses are not read", got, ingressIP(ms[1]))
		}
	})

	t.Run("granted later, read without a restart", func(t *testing.T) {
		regrant(t, f.admin["member-3"])
		t.Logf("member-3's Ingress answered after %v", expect(t, "asia answered", taipei, ingressIP(ms[2])))
		if s.HasMetric(t, `coredns_meridian_source_kind_unavailable{cluster="member-3",kind="Ingress"}`, "1") {
			t.Errorf("still shown as unavailable")
		}
	})

	t.Run("geo answers", func(t *testing.T) {
		for _, tc := range []struct{ subnet, want string }{{taipei, ingressIP(ms[2])}, {chi, ingressIP(ms[0])}, {paris, ingressIP(ms[1])}} {
			if got := answer(t, tc.subnet); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("client %s: %v, want %s", tc.subnet, got, tc.want)
			}
		}
		txt := s.Ask(t, "udp", shop, dns.TypeTXT, taipei)
		if len(txt.Answer) != 1 || !strings.Contains(txt.Answer[0].String(), "member-3") {
			t.Errorf("TXT %v, want member-3's", txt.Answer)
		}
	})

	t.Run("one backend unready", func(t *testing.T) {
		setReady(t, f.admin["member-3"], "cart", 0)
		t.Logf("answer moved after %v", expect(t, "asia's cart unready: europe", taipei, ingressIP(ms[1])))
		setReady(t, f.admin["member-3"], "cart", 3)
		t.Logf("answer back after %v", expect(t, "asia's cart ready", taipei, ingressIP(ms[2])))
	})

	t.Run("another namespace claims the host", func(t *testing.T) {
		c := f.admin["member-3"]
		if _, err := c.CoreV1().Namespaces().Create(context.Background(), namespace("evil"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		addIngress(t, c, "evil", "storefront", fed, "203.0.113.66", shop)
		s.WaitMetric(t, 20*time.Second, `coredns_meridian_host_conflicts{reason="taken"}`, func() string { return "1" })
		if got := answer(t, taipei); !slices.Equal(got, []string{ingressIP(ms[2])}) {
			t.Errorf("taipei: %v, want the owner's %s", got, ingressIP(ms[2]))
		}
		if !strings.Contains(s.Out.String(), "host shop.example.com claimed by Ingress evil/storefront in cluster member-3: not answered, default/storefront claimed it first") {
			t.Errorf("the conflict is not logged:\n%s", s.Out)
		}
	})
}

// ingressIP is the load-balancer IP of member m's Ingress controller.
func ingressIP(m member) string {
	return strings.TrimSuffix(m.lb, m.lb[strings.LastIndexByte(m.lb, '.')+1:]) + "80"
}

// addIngress creates an Ingress routing host to backends, with its
// load-balancer status set as an Ingress controller would.
func addIngress(t testing.TB, c kubernetes.Interface, ns, name string, labels map[string]string, ip, host string, backends ...string) {
	t.Helper()
	ctx := context.Background()
	in := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}}
	rule := networkingv1.IngressRule{Host: strings.TrimSuffix(host, "."), IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	prefix := networkingv1.PathTypePrefix
	for _, b := range backends {
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: "/" + b, PathType: &prefix,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: b, Port: networkingv1.ServiceBackendPort{Number: 80}}}})
	}
	if len(backends) == 0 {
		rule.HTTP = nil
	}
	in.Spec.Rules = []networkingv1.IngressRule{rule}
	in, err := c.NetworkingV1().Ingresses(ns).Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("ingress %s/%s: %v", ns, name, err)
	}
	in.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: ip}}
	if _, err := c.NetworkingV1().Ingresses(ns).UpdateStatus(ctx, in, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("ingress %s/%s status: %v", ns, name, err)
	}
}

// revoke removes the rules of API group from the ClusterRole of
// deploy/rbac.yaml.
func revoke(t testing.TB, c kubernetes.Interface, group string) {
	t.Helper()
	ctx := context.Background()
	role, err := c.RbacV1().ClusterRoles().Get(ctx, "meridian-reader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.Rules = slices.DeleteFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.APIGroups, group) })
	if _, err := c.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// regrant puts the networking.k8s.io rule of deploy/rbac.yaml back.
func regrant(t testing.TB, c kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	role, err := c.RbacV1().ClusterRoles().Get(ctx, "meridian-reader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"},
		Verbs: []string{"get", "list", "watch"}})
	if _, err := c.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// grep returns the lines of s that hold sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

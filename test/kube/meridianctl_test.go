package kube

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestMeridianctl joins two real member API servers to a Meridian whose
// host cluster is a third, with the operator's admin kubeconfig and the
// real meridianctl binary: the running Meridian picks each member up,
// with no restart, from the kubeconfig Secret (copied to its file as a
// kubelet updates a mounted Secret); the token minted in a member reads
// what Meridian needs and nothing else; a second join changes nothing;
// list checks the stored credentials; unjoin takes a member out of the
// answers and its RBAC and token out of the member; errors name the
// context, or the verb and resource refused.
func TestMeridianctl(t *testing.T) {
	f := startFederation(t, 3)
	ctl := e2eutil.Meridianctl(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fed := map[string]string{fedLabel: "myfed"}
	for _, m := range members[1:3] { // member-2 (europe-west1), member-3 (asia-east1)
		c := f.admin[m.name]
		addNode(t, c, m)
		addService(t, c, m, "nginx", fed, 3)
		go f.tokenController(ctx, t, m.name) // the harness runs no kube-controller-manager
	}
	// member-3 starts without deploy/rbac.yaml, as a new cluster would.
	c3 := f.admin["member-3"]
	for _, del := range []func() error{
		func() error {
			return c3.RbacV1().ClusterRoleBindings().Delete(ctx, "meridian-reader", metav1.DeleteOptions{})
		},
		func() error { return c3.RbacV1().ClusterRoles().Delete(ctx, "meridian-reader", metav1.DeleteOptions{}) },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	admin := filepath.Join(f.dir, "kubeconfig") // the operator's: every member, admin credentials
	meridianKubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	do := func(t *testing.T, want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(ctl, append(args, "--kubeconfig", admin, "--token-wait", "20s")...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		t.Logf("meridianctl %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		if code := cmd.ProcessState.ExitCode(); code != want {
			t.Fatalf("meridianctl %q: exit %d (%v), want %d\n%s", args, code, err, want, out.String())
		}
		return out.String()
	}
	sync := func(t *testing.T) { f.syncSecret(t, "member-1", meridianKubeconfig) }

	out := do(t, 0, "join", "member-2", "--host-context", "member-1")
	t.Logf("join member-2:\n%s", out)
	if !strings.Contains(out, "host member-1: added member member-2 in secret meridian/meridian-kubeconfig") {
		t.Errorf("join did not say it added member-2:\n%s", out)
	}
	sync(t)
	s := startMeridian(t, meridianKubeconfig)
	answer := func(t *testing.T) []string { return e2eutil.Addrs(s.Ask(t, "udp", nginx, dns.TypeA, taipei)) }
	e2eutil.Eventually(t, 20*time.Second, "member-2 answers", func() bool { return slices.Equal(answer(t), []string{members[1].lb}) })

	t.Run("join picked up without a restart", func(t *testing.T) {
		out := do(t, 0, "join", "member-3", "--host-context", "member-1", "--name", "asia")
		for _, want := range []string{"member member-3: created clusterrole meridian-reader", "member member-3: created clusterrolebinding meridian-reader",
			"member member-3: created secret meridian/meridian-token", "added member asia"} {
			if !strings.Contains(out, want) {
				t.Errorf("join member-3 does not say %q:\n%s", want, out)
			}
		}
		sync(t)
		took := e2eutil.Eventually(t, 20*time.Second, "asia answers Taipei", func() bool { return slices.Equal(answer(t), []string{members[2].lb}) })
		// The process started before the join answers for it: no restart.
		t.Logf("the joined cluster answered %v after the Secret changed", took)
	})

	t.Run("the minted token reads what it needs and nothing else", func(t *testing.T) {
		token := f.secretToken(t, "member-3")
		c := f.clientWithToken(t, "member-3", token)
		for _, r := range []struct {
			verb, group, resource string
			allowed               bool
		}{
			{"list", "", "services", true}, {"watch", "", "nodes", true}, {"watch", "discovery.k8s.io", "endpointslices", true},
			{"list", "networking.k8s.io", "ingresses", true}, {"watch", "gateway.networking.k8s.io", "httproutes", true},
			{"get", "", "secrets", false}, {"list", "", "secrets", false}, {"create", "", "services", false},
			{"update", "discovery.k8s.io", "endpointslices", false}, {"delete", "", "nodes", false},
			{"create", "rbac.authorization.k8s.io", "clusterrolebindings", false}, {"create", "", "serviceaccounts/token", false},
		} {
			rev, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authzv1.SelfSubjectAccessReview{
				Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{Verb: r.verb, Group: r.group, Resource: r.resource}}},
				metav1.CreateOptions{})
			if err != nil || rev.Status.Allowed != r.allowed {
				t.Errorf("%s %s.%s: allowed %v (%v), want %v", r.verb, r.resource, r.group, rev.Status.Allowed, err, r.allowed)
			}
		}
	})

	t.Run("a second join changes nothing", func(t *testing.T) {
		before := f.secretData(t, "member-1")
		out := do(t, 0, "join", "member-3", "--host-context", "member-1", "--name", "asia")
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.Contains(l, "unchanged") {
				t.Errorf("second join changed something: %q\n%s", l, out)
			}
		}
		if after := f.secretData(t, "member-1"); !bytes.Equal(before, after) {
			t.Errorf("the Secret changed")
		}
	})

	t.Run("list", func(t *testing.T) {
		out := do(t, 0, "list", "--host-context", "member-1")
		if !strings.Contains(out, "asia") || !strings.Contains(out, "member-2") || strings.Contains(out, "TOO MANY") {
			t.Errorf("list:\n%s", out)
		}
		// Credentials that can do more: the harness's admin token in the Secret.
		f.setSecretToken(t, "member-1", "member-2", f.adminToken(t, "member-2"))
		out = do(t, 1, "list", "--host-context", "member-1")
		if !strings.Contains(out, "member-2") || !strings.Contains(out, "TOO MANY RIGHTS: can get secrets") {
			t.Errorf("list with admin credentials stored:\n%s", out)
		}
		do(t, 0, "join", "member-2", "--host-context", "member-1") // puts the minted token back
	})

	t.Run("errors", func(t *testing.T) {
		if out := do(t, 1, "join", "nope", "--host-context", "member-1"); !strings.Contains(out, `unknown context "nope"`) {
			t.Errorf("unknown context:\n%s", out)
		}
		// An operator whose credentials are Meridian's own reader token.
		weak := filepath.Join(t.TempDir(), "weak")
		f.writeKubeconfig(t, weak, "member-2", "member-1")
		cmd := exec.Command(ctl, "join", "member-2", "--host-context", "member-1", "--kubeconfig", weak)
		got, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(got), "insufficient rights: cannot get namespaces") {
			t.Errorf("weak credentials: exit %d\n%s", cmd.ProcessState.ExitCode(), got)
		}
	})

	t.Run("unjoin", func(t *testing.T) {
		out := do(t, 0, "unjoin", "member-3", "--host-context", "member-1", "--name", "asia")
		for _, want := range []string{"removed member asia", "deleted secret meridian/meridian-token", "deleted clusterrole meridian-reader",
			"deleted clusterrolebinding meridian-reader", "deleted serviceaccount meridian/meridian"} {
			if !strings.Contains(out, want) {
				t.Errorf("unjoin does not say %q:\n%s", want, out)
			}
		}
		sync(t)
		took := e2eutil.Eventually(t, 20*time.Second, "asia out of the answers", func() bool { return slices.Equal(answer(t), []string{members[1].lb}) })
		t.Logf("unjoined: out of the answers after %v", took)
		if _, err := c3.RbacV1().ClusterRoles().Get(context.Background(), "meridian-reader", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the ClusterRole is still in member-3: %v", err)
		}
		if out := do(t, 0, "unjoin", "member-3", "--host-context", "member-1", "--name", "asia"); !strings.Contains(out, "is not in secret") {
			t.Errorf("second unjoin:\n%s", out)
		}
	})
}

// tokenController does what kube-controller-manager's token controller
// does for meridianctl's ServiceAccount token Secret in member, which the
// harness does not run: it fills the Secret's token (a token of its
// ServiceAccount bound to the Secret, so it dies with it) and CA bundle.
func (f *federation) tokenController(ctx context.Context, t *testing.T, member string) {
	c := f.admin[member]
	ca := f.kubecfg.Clusters[f.kubecfg.Contexts[member].Cluster].CertificateAuthorityData
	for ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		s, err := c.CoreV1().Secrets("meridian").Get(ctx, "meridian-token", metav1.GetOptions{})
		if err != nil || s.Type != corev1.SecretTypeServiceAccountToken || len(s.Data[corev1.ServiceAccountTokenKey]) > 0 {
			continue
		}
		exp := int64(24 * 3600)
		tr, err := c.CoreV1().ServiceAccounts("meridian").CreateToken(ctx, s.Annotations[corev1.ServiceAccountNameKey], &authv1.TokenRequest{
			Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp,
				BoundObjectRef: &authv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: s.Name, UID: s.UID}}}, metav1.CreateOptions{})
		if err != nil {
			t.Logf("token controller of %s: %v", member, err)
			continue
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[corev1.ServiceAccountTokenKey], s.Data[corev1.ServiceAccountRootCAKey] = []byte(tr.Status.Token), ca
		if _, err := c.CoreV1().Secrets("meridian").Update(ctx, s, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
			t.Logf("token controller of %s: %v", member, err)
		}
	}
}

// secretData returns the kubeconfig in host's meridian/meridian-kubeconfig.
func (f *federation) secretData(t *testing.T, host string) []byte {
	t.Helper()
	s, err := f.admin[host].CoreV1().Secrets("meridian").Get(context.Background(), "meridian-kubeconfig", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data["kubeconfig"]
}

// syncSecret writes the host's kubeconfig Secret to path, as a kubelet
// updates a mounted Secret (through a rename).
func (f *federation) syncSecret(t *testing.T, host, path string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, f.secretData(t, host), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// setSecretToken replaces member's token in host's kubeconfig Secret.
func (f *federation) setSecretToken(t *testing.T, host, member, token string) {
	t.Helper()
	ctx := context.Background()
	s, err := f.admin[host].CoreV1().Secrets("meridian").Get(ctx, "meridian-kubeconfig", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := f.secretToken2(t, s.Data["kubeconfig"], member)
	s.Data["kubeconfig"] = bytes.Replace(s.Data["kubeconfig"], []byte(old), []byte(token), 1)
	if _, err := f.admin[host].CoreV1().Secrets("meridian").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// secretToken returns the token of member's meridian/meridian-token.
func (f *federation) secretToken(t *testing.T, member string) string {
	t.Helper()
	s, err := f.admin[member].CoreV1().Secrets("meridian").Get(context.Background(), "meridian-token", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Data[corev1.ServiceAccountTokenKey])
}

// secretToken2 returns the token of context member in a kubeconfig.
func (f *federation) secretToken2(t *testing.T, kubeconfig []byte, member string) string {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.AuthInfos[cfg.Contexts[member].AuthInfo].Token
}

// adminToken is a token of a ServiceAccount bound to cluster-admin in
// member: credentials that can do far more than Meridian needs.
func (f *federation) adminToken(t *testing.T, member string) string {
	t.Helper()
	ctx, c := context.Background(), f.admin[member]
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "admin-for-test"}}
	if err := create(ctx, c.CoreV1().ServiceAccounts("kube-system"), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "admin-for-test"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "kube-system", Name: "admin-for-test"}}}
	if err := create(ctx, c.RbacV1().ClusterRoleBindings(), b); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return f.tokenOf(t, member, "kube-system", "admin-for-test")
}

// clientWithToken is a client of member authenticated with token.
func (f *federation) clientWithToken(t *testing.T, member, token string) kubernetes.Interface {
	t.Helper()
	rc := rest.CopyConfig(f.restConfig(t, member))
	rc.BearerToken, rc.CertData, rc.KeyData, rc.CertFile, rc.KeyFile = token, nil, nil, "", ""
	return kubernetes.NewForConfigOrDie(rc)
}

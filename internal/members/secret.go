package members

import (
	"context"
	"fmt"
	"slices"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// entry is what the host's kubeconfig Secret holds of one member.
type entry struct {
	server   string
	ca       []byte
	insecure bool
	token    string
}

// readSecret returns the host's kubeconfig Secret (nil when there is none)
// and the kubeconfig it holds (empty then).
func readSecret(ctx context.Context, host *Cluster, o Options) (*corev1.Secret, *clientcmdapi.Config, error) {
	s, err := host.Client.CoreV1().Secrets(o.Namespace).Get(ctx, o.Secret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, clientcmdapi.NewConfig(), nil
	case err != nil:
		return nil, nil, rights(host, "get", "secrets", err)
	}
	cfg, err := clientcmd.Load(s.Data[o.Key])
	if err != nil {
		return nil, nil, fmt.Errorf("context %s: secret %s/%s key %s is not a kubeconfig: %w", host.Context, o.Namespace, o.Secret, o.Key, err)
	}
	return s, cfg, nil
}

// writeSecret stores cfg in the host's kubeconfig Secret, creating it (and
// its namespace) when s is nil.
func writeSecret(ctx context.Context, host *Cluster, o Options, s *corev1.Secret, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	api := host.Client.CoreV1()
	if s != nil {
		s.Data[o.Key] = data
		if _, err := api.Secrets(o.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return rights(host, "update", "secrets", err)
		}
		return nil
	}
	if _, err := api.Namespaces().Get(ctx, o.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := api.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}, metav1.CreateOptions{}); err != nil {
			return rights(host, "create", "namespaces", err)
		}
		fmt.Fprintf(o.Out, "host %s: created namespace %s\n", host.Context, o.Namespace)
	}
	s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: o.Secret, Namespace: o.Namespace}, Data: map[string][]byte{o.Key: data}}
	if _, err := api.Secrets(o.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return rights(host, "create", "secrets", err)
	}
	return nil
}

// writeEntry adds or updates the member name in the host's kubeconfig
// Secret: a cluster, a user and a context, all named name.
func writeEntry(ctx context.Context, host *Cluster, o Options, name string, e entry) error {
	s, cfg, err := readSecret(ctx, host, o)
	if err != nil {
		return err
	}
	cluster := &clientcmdapi.Cluster{Server: e.server, CertificateAuthorityData: e.ca, InsecureSkipTLSVerify: e.insecure}
	user := &clientcmdapi.AuthInfo{Token: e.token}
	kctx := &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	old, had := cfg.Contexts[name]
	if had && equality.Semantic.DeepEqual(cfg.Clusters[name], cluster) && equality.Semantic.DeepEqual(cfg.AuthInfos[name], user) &&
		equality.Semantic.DeepEqual(old, kctx) {
		fmt.Fprintf(o.Out, "host %s: member %s unchanged in secret %s/%s\n", host.Context, name, o.Namespace, o.Secret)
		return nil
	}
	cfg.Clusters[name], cfg.AuthInfos[name], cfg.Contexts[name] = cluster, user, kctx
	if cfg.CurrentContext == "" {
		cfg.CurrentContext = name
	}
	if err := writeSecret(ctx, host, o, s, cfg); err != nil {
		return err
	}
	verb := "added"
	if had {
		verb = "updated"
	}
	fmt.Fprintf(o.Out, "host %s: %s member %s in secret %s/%s\n", host.Context, verb, name, o.Namespace, o.Secret)
	return nil
}

// removeEntry takes the member name out of the host's kubeconfig Secret.
func removeEntry(ctx context.Context, host *Cluster, o Options, name string) error {
	s, cfg, err := readSecret(ctx, host, o)
	if err != nil {
		return err
	}
	if _, ok := cfg.Contexts[name]; s == nil || !ok {
		fmt.Fprintf(o.Out, "host %s: member %s is not in secret %s/%s\n", host.Context, name, o.Namespace, o.Secret)
		return nil
	}
	delete(cfg.Contexts, name)
	delete(cfg.Clusters, name)
	delete(cfg.AuthInfos, name)
	if cfg.CurrentContext == name {
		cfg.CurrentContext = ""
		for n := range cfg.Contexts {
			if cfg.CurrentContext == "" || n < cfg.CurrentContext {
				cfg.CurrentContext = n
			}
		}
	}
	if err := writeSecret(ctx, host, o, s, cfg); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "host %s: removed member %s from secret %s/%s\n", host.Context, name, o.Namespace, o.Secret)
	return nil
}

// Member is one member cluster of the host's kubeconfig Secret, as List
// finds it with the credentials stored there.
type Member struct {
	Name   string
	Server string
	// Err is why the member could not be checked (unreachable, token
	// refused); nil when it answered.
	Err error
	// Missing are the rights Meridian needs that the stored credentials
	// lack; Excess the rights they have and should not (a few checked).
	Missing, Excess []string
}

// Right is a verb on a resource (of an API group) at cluster scope.
type Right struct{ Verb, Group, Resource string }

func (r Right) String() string {
	if r.Group == "" {
		return r.Verb + " " + r.Resource
	}
	return r.Verb + " " + r.Resource + "." + r.Group
}

// Needed are the rights Meridian reads member clusters with
// (deploy/rbac.yaml).
var Needed = func() []Right {
	var out []Right
	for _, r := range [][2]string{{"", "services"}, {"", "nodes"}, {"discovery.k8s.io", "endpointslices"}, {"networking.k8s.io", "ingresses"},
		{"gateway.networking.k8s.io", "gateways"}, {"gateway.networking.k8s.io", "httproutes"}, {"gateway.networking.k8s.io", "grpcroutes"}} {
		for _, v := range []string{"get", "list", "watch"} {
			out = append(out, Right{v, r[0], r[1]})
		}
	}
	return out
}()

// Excessive are rights that stored credentials must not have: any one of
// them is reported.
var Excessive = []Right{
	{"get", "", "secrets"}, {"list", "", "secrets"}, {"create", "", "services"}, {"update", "", "services"},
	{"delete", "", "nodes"}, {"create", "discovery.k8s.io", "endpointslices"}, {"update", "networking.k8s.io", "ingresses"},
	{"create", "rbac.authorization.k8s.io", "clusterrolebindings"}, {"*", "*", "*"},
}

// List returns the members of the host's kubeconfig Secret, each checked
// with its stored credentials: whether its API server answers, and which
// rights they lack or have beyond Needed (SelfSubjectAccessReview).
func List(ctx context.Context, host *Cluster, o Options) ([]Member, error) {
	o.defaults()
	if err := reachable(ctx, host); err != nil {
		return nil, err
	}
	s, cfg, err := readSecret(ctx, host, o)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("context %s: no secret %s/%s: no member has joined", host.Context, o.Namespace, o.Secret)
	}
	var names []string
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Member
	for _, n := range names {
		m := Member{Name: n}
		if c := cfg.Clusters[cfg.Contexts[n].Cluster]; c != nil {
			m.Server = c.Server
		}
		rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, n, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err == nil {
			m.Missing, m.Excess, err = check(ctx, rc)
		}
		m.Err = err
		out = append(out, m)
	}
	return out, nil
}

// check asks the API server of rc which of Needed the credentials lack and
// which of Excessive they have.
func check(ctx context.Context, rc *rest.Config) (missing, excess []string, err error) {
	rc.QPS, rc.Burst = 50, 100 // 30 reviews; client-go's default of 5 a second made them take 6 s
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	allowed := func(r Right) (bool, error) {
		rev, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authzv1.ResourceAttributes{Verb: r.Verb, Group: r.Group, Resource: r.Resource}}}, metav1.CreateOptions{})
		if err != nil {
			return false, fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		return rev.Status.Allowed, nil
	}
	for _, r := range Needed {
		ok, err := allowed(r)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			missing = append(missing, r.String())
		}
	}
	for _, r := range Excessive {
		ok, err := allowed(r)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			excess = append(excess, r.String())
		}
	}
	return missing, excess, nil
}

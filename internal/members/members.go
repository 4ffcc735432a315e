// Package members joins member clusters to a Meridian federation and takes
// them out again, as meridianctl does: in the member, the least-privilege
// RBAC of deploy/rbac.yaml and a ServiceAccount token Secret; in the host
// cluster (where Meridian runs), the member's entry in the kubeconfig
// Secret that Meridian reads. Every step is idempotent and says what it
// changed. See docs/operating.md.
package members

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Defaults of Options.
const (
	DefaultNamespace = "meridian"            // of the Secret in the host, and of the RBAC in members
	DefaultSecret    = "meridian-kubeconfig" // the host's kubeconfig Secret
	DefaultKey       = "kubeconfig"          // its key
	// TokenSecret is the member's ServiceAccount token Secret.
	TokenSecret    = "meridian-token"
	serviceAccount = "meridian" // deploy/rbac.yaml's
)

// Cluster is one cluster as the operator's kubeconfig reaches it.
type Cluster struct {
	Context  string               // the kubeconfig context
	Server   string               // the API server's URL
	CA       []byte               // the API server's CA bundle, PEM; nil for the system's
	Insecure bool                 // the context skips TLS verification
	Client   kubernetes.Interface // with the operator's credentials
}

// Options say where the host keeps the kubeconfig Secret and how to
// report.
type Options struct {
	Namespace, Secret, Key string        // "" takes the defaults
	Out                    io.Writer     // what changed, one line each; nil discards
	TokenWait              time.Duration // how long to wait for the token controller; 0 is 30 s
}

func (o *Options) defaults() {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Secret == "" {
		o.Secret = DefaultSecret
	}
	if o.Key == "" {
		o.Key = DefaultKey
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.TokenWait <= 0 {
		o.TokenWait = 30 * time.Second
	}
}

// ErrUnreachable is a cluster whose API server does not answer.
var ErrUnreachable = errors.New("unreachable")

// reachable checks that c's API server answers, within 10 s.
func reachable(ctx context.Context, c *Cluster) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Client.Discovery().RESTClient().Get().AbsPath("/version").DoRaw(ctx); err != nil {
		return fmt.Errorf("context %s: API server %s: %w: %v", c.Context, c.Server, ErrUnreachable, err)
	}
	return nil
}

// Join makes member a member cluster named name of the Meridian that runs
// in host: it applies deploy/rbac.yaml in the member, makes sure the
// member has a ServiceAccount token Secret for Meridian and that the
// token controller filled it, and writes the member's entry (cluster, user
// and context, all named name) into the host's kubeconfig Secret. Run
// again, it changes nothing.
func Join(ctx context.Context, member, host *Cluster, name string, o Options) error {
	o.defaults()
	for _, c := range []*Cluster{member, host} {
		if err := reachable(ctx, c); err != nil {
			return err
		}
	}
	if err := applyRBAC(ctx, member, o.Out); err != nil {
		return err
	}
	token, ca, err := ensureToken(ctx, member, o)
	if err != nil {
		return err
	}
	if len(ca) == 0 {
		ca = member.CA
	}
	return writeEntry(ctx, host, o, name, entry{server: member.Server, ca: ca, insecure: member.Insecure, token: token})
}

// Unjoin reverses Join: the member's entry leaves the host's kubeconfig
// Secret (Meridian drops the cluster at its next read), and the token
// Secret and the RBAC objects of deploy/rbac.yaml are deleted in the member
// (the namespace too, when nothing else is left in it). A member that no
// longer answers is only removed from the Secret, and that is said.
func Unjoin(ctx context.Context, member, host *Cluster, name string, o Options) error {
	o.defaults()
	if err := reachable(ctx, host); err != nil {
		return err
	}
	if err := removeEntry(ctx, host, o, name); err != nil {
		return err
	}
	if member == nil {
		return nil
	}
	if err := reachable(ctx, member); err != nil {
		fmt.Fprintf(o.Out, "member %s: not reached, its RBAC and token are left in place: %v\n", member.Context, err)
		return nil
	}
	return deleteRBAC(ctx, member, o.Out)
}

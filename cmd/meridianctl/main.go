// Command meridianctl is the operator's command for a Meridian federation:
// it joins member clusters (least-privilege RBAC and a token in the member,
// its entry in the kubeconfig Secret Meridian reads in the host cluster),
// takes them out again, and lists them with a check of what their stored
// credentials can do. It uses the operator's kubeconfig and needs no
// kubectl. It also explains an answer: why a client gets the shards it
// gets, from a Meridian's status listener. See docs/operating.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meridian-dns/meridian/internal/members"
)

const usage = `usage:
  meridianctl join CONTEXT --host-context HOST [--name CLUSTER] [flags]
  meridianctl unjoin CONTEXT --host-context HOST [--name CLUSTER] [flags]
  meridianctl list --host-context HOST [flags]
  meridianctl explain NAME [--type A] [--client IP[/PREFIX]] [--server URL] [--json]

CONTEXT is the member cluster's context in your kubeconfig, HOST the
context of the cluster Meridian runs in; CLUSTER (default CONTEXT) is the
member's name in the federation. Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one command and returns the exit code: 0, 1 for a failed
// command, 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("meridianctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	hostCtx := fs.String("host-context", "", "context of the cluster Meridian runs in (required)")
	name := fs.String("name", "", "the member's cluster name in the federation (default: its context)")
	o := members.Options{Out: stdout}
	fs.StringVar(&o.Namespace, "namespace", members.DefaultNamespace, "namespace of the kubeconfig Secret in the host cluster")
	fs.StringVar(&o.Secret, "secret", members.DefaultSecret, "name of the kubeconfig Secret in the host cluster")
	fs.StringVar(&o.Key, "key", members.DefaultKey, "key of the kubeconfig in the Secret")
	fs.DurationVar(&o.TokenWait, "token-wait", 30*time.Second, "how long to wait for the member's token controller")
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	cmd, rest := args[0], args[1:]
	if cmd == "explain" {
		return explainCmd(ctx, rest, stdout, stderr)
	}
	var member string
	if cmd == "join" || cmd == "unjoin" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprintf(stderr, "meridianctl %s: the member's CONTEXT comes first\n", cmd)
			return 2
		}
		member, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	switch {
	case !slices.Contains([]string{"join", "unjoin", "list"}, cmd):
		fmt.Fprintf(stderr, "meridianctl: unknown command %q: want join, unjoin, list or explain\n", cmd)
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "meridianctl %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	case *hostCtx == "":
		fmt.Fprintf(stderr, "meridianctl %s: --host-context is required\n", cmd)
		return 2
	}
	if *name == "" {
		*name = member
	}
	err := func() error {
		loader := clientcmd.NewDefaultClientConfigLoadingRules()
		if *kubeconfig != "" {
			loader.ExplicitPath = *kubeconfig
		}
		host, err := cluster(loader, *hostCtx)
		if err != nil {
			return err
		}
		switch cmd {
		case "list":
			return list(ctx, host, o, stdout)
		case "join":
			m, err := cluster(loader, member)
			if err != nil {
				return err
			}
			return members.Join(ctx, m, host, *name, o)
		}
		m, err := cluster(loader, member)
		if err != nil {
			// The member may be gone for good: take it out of the Secret.
			fmt.Fprintf(stderr, "meridianctl: %v; removing it from the host only\n", err)
			m = nil
		}
		return members.Unjoin(ctx, m, host, *name, o)
	}()
	if err != nil {
		fmt.Fprintf(stderr, "meridianctl %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// cluster is the context name of the operator's kubeconfig.
func cluster(loader *clientcmd.ClientConfigLoadingRules, name string) (*members.Cluster, error) {
	raw, err := loader.Load()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if _, ok := raw.Contexts[name]; !ok {
		var known []string
		for n := range raw.Contexts {
			known = append(known, n)
		}
		slices.Sort(known)
		return nil, fmt.Errorf("unknown context %q; the kubeconfig has %q", name, known)
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, loader).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	ca := rc.CAData
	if len(ca) == 0 && rc.CAFile != "" {
		if ca, err = os.ReadFile(rc.CAFile); err != nil {
			return nil, fmt.Errorf("context %s: %w", name, err)
		}
	}
	c, err := kubernetes.NewForConfig(rest.CopyConfig(rc))
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", name, err)
	}
	return &members.Cluster{Context: name, Server: rc.Host, CA: ca, Insecure: rc.Insecure, Client: c}, nil
}

// list prints the members of the host's Secret, flagging the ones that do
// not answer or whose credentials lack or exceed what Meridian needs.
func list(ctx context.Context, host *members.Cluster, o members.Options, out io.Writer) error {
	ms, err := members.List(ctx, host, o)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEMBER\tSERVER\tSTATUS")
	bad := 0
	for _, m := range ms {
		status := "ok: reads what Meridian needs, nothing more that was checked"
		switch {
		case m.Err != nil:
			status, bad = "NOT ANSWERING: "+m.Err.Error(), bad+1
		case len(m.Excess) > 0:
			status, bad = "TOO MANY RIGHTS: can "+strings.Join(m.Excess, ", "), bad+1
		case len(m.Missing) > 0:
			status, bad = "MISSING RIGHTS: cannot "+strings.Join(m.Missing, ", "), bad+1
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", m.Name, m.Server, status)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return errors.New(fmt.Sprint(bad, " of ", len(ms), " members need attention"))
	}
	return nil
}

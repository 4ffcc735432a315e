package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCommandLine checks the command line: what is refused (exit 2),
// and the clear errors of a command that cannot run (exit 1) before any
// cluster is reached.
func TestRunCommandLine(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: one, context: {cluster: c, user: u}}, {name: two, context: {cluster: c, user: u}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage:"},
		{[]string{"frobnicate", "--host-context", "one"}, 2, `unknown command "frobnicate"`},
		{[]string{"join"}, 2, "the member's CONTEXT comes first"},
		{[]string{"join", "--host-context", "one"}, 2, "the member's CONTEXT comes first"},
		{[]string{"join", "two"}, 2, "--host-context is required"},
		{[]string{"list", "--host-context", "one", "extra"}, 2, `unexpected arguments ["extra"]`},
		{[]string{"join", "two", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"join", "three", "--host-context", "one", "--kubeconfig", kubeconfig}, 1, `unknown context "three"; the kubeconfig has ["one" "two"]`},
		{[]string{"list", "--host-context", "four", "--kubeconfig", kubeconfig}, 1, `unknown context "four"`},
		// Port 1 of loopback answers nothing.
		{[]string{"join", "two", "--host-context", "one", "--kubeconfig", kubeconfig}, 1, "context two: API server https://127.0.0.1:1: unreachable"},
		{[]string{"explain"}, 2, "usage: meridianctl explain NAME"},
		{[]string{"explain", "a.example.com", "--client", "1.2.3.4/40"}, 2, `client "1.2.3.4/40"`},
		{[]string{"explain", "a.example.com", "--type", "NOPE"}, 2, `type "NOPE"`},
		{[]string{"explain", "a.example.com", "more"}, 2, `unexpected arguments ["more"]`},
		{[]string{"explain", "a.example.com", "--server", "http://127.0.0.1:1"}, 1, "connection refused"},
	} {
		var out bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &out); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("meridianctl %q: exit %d, output\n%s\nwant exit %d and %q", tc.args, code, out.String(), tc.code, tc.want)
		}
	}
}

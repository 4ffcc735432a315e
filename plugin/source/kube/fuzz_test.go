package kube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzKubeconfig feeds the kubeconfig reader any file (issue 16, item 6):
// it never panics, and a file it refuses is an error wrapping
// ErrKubeconfig (the source then keeps the clusters it runs). A file that
// names other files (certificates, token files, exec plugins) is not
// followed: the reader only builds client configurations.
func FuzzKubeconfig(f *testing.F) {
	f.Add([]byte(`apiVersion: v1
kind: Config
clusters:
- name: eu
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: eu
  user: {token: abc}
contexts:
- name: eu
  context: {cluster: eu, user: eu}
current-context: eu
`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"a","cluster":{"server":"http://[::1]:8080"}}],"contexts":[{"name":"a","context":{"cluster":"a","user":"a"}},{"name":"b","context":{"cluster":"zz"}}],"users":[{"name":"a","user":{"username":"u","password":"p"}}]}`))
	f.Add([]byte("clusters: [{name: x}]\ncontexts: [{name: x, context: {cluster: x}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if strings.Contains(string(data), "/dev/") || strings.Contains(string(data), "exec") {
			t.Skip("a file that names a device or a plugin to run") // reading them is not the reader's business
		}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s := &Source{opts: Options{Kubeconfigs: []string{path}}}
		if _, err := s.load(); err != nil && !errors.Is(err, ErrKubeconfig) {
			t.Fatalf("an error that does not wrap ErrKubeconfig: %v", err)
		}
	})
}

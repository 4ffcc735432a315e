package members

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
)

// TestEntries walks a member's entry in the host's kubeconfig Secret
// through add, no change, update and removal, on a fake clientset (the
// real API servers are TestMeridianctl's, in test/kube).
func TestEntries(t *testing.T) {
	ctx := context.Background()
	host := &Cluster{Context: "host", Client: fake.NewClientset()}
	var out bytes.Buffer
	o := Options{Out: &out}
	o.defaults()
	steps := []struct {
		name     string
		do       func() error
		says     string
		contexts []string
	}{
		{"add", func() error {
			return writeEntry(ctx, host, o, "a", entry{server: "https://a", token: "t1", ca: []byte("ca")})
		},
			"added member a", []string{"a"}},
		{"again", func() error {
			return writeEntry(ctx, host, o, "a", entry{server: "https://a", token: "t1", ca: []byte("ca")})
		},
			"member a unchanged", []string{"a"}},
		{"new token", func() error {
			return writeEntry(ctx, host, o, "a", entry{server: "https://a", token: "t2", ca: []byte("ca")})
		},
			"updated member a", []string{"a"}},
		{"another", func() error { return writeEntry(ctx, host, o, "b", entry{server: "https://b", token: "t3"}) },
			"added member b", []string{"a", "b"}},
		{"remove", func() error { return removeEntry(ctx, host, o, "a") }, "removed member a", []string{"b"}},
		{"remove again", func() error { return removeEntry(ctx, host, o, "a") }, "member a is not in secret", []string{"b"}},
	}
	for _, s := range steps {
		out.Reset()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !strings.Contains(out.String(), s.says) {
			t.Errorf("%s: says %q, want %q", s.name, out.String(), s.says)
		}
		sec, cfg, err := readSecret(ctx, host, o)
		if err != nil || sec == nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		var got []string
		for n := range cfg.Contexts {
			got = append(got, n)
		}
		if strings.Join(slices.Sorted(slices.Values(got)), " ") != strings.Join(s.contexts, " ") {
			t.Errorf("%s: contexts %v, want %v", s.name, got, s.contexts)
		}
		if _, ok := cfg.Contexts[cfg.CurrentContext]; !ok {
			t.Errorf("%s: current context %q is not a context", s.name, cfg.CurrentContext)
		}
		if _, err := clientcmd.NewNonInteractiveClientConfig(*cfg, cfg.CurrentContext, &clientcmd.ConfigOverrides{}, nil).ClientConfig(); err != nil {
			t.Errorf("%s: the kubeconfig does not load: %v", s.name, err)
		}
	}
}

// Package e2e starts the real meridian binary on the demo federation and
// talks DNS to it over real sockets, with miekg/dns and, where installed,
// dig and kdig.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// server is meridian serving a private copy of the demo federation.
type server struct {
	*e2eutil.Server
	demo     string // the copy of testdata/demo
	resolver string // the demo resolver's address (cluster us-central1-a)
}

// startDemo copies the demo federation into a temporary folder and starts
// meridian on it with Corefile.example, ports and paths rewritten.
func startDemo(t *testing.T) *server {
	t.Helper()
	return startDemoWith(t)
}

// startDemoWith is startDemo with more rewrites of Corefile.example: old,
// new pairs, applied before (and so instead of) startDemo's own.
func startDemoWith(t *testing.T, rewrites ...string) *server {
	t.Helper()
	return startDemoProc(t, e2eutil.Process{}, rewrites...)
}

// startDemoProc is startDemoWith, the process started as proc says.
func startDemoProc(t *testing.T, proc e2eutil.Process, rewrites ...string) *server {
	t.Helper()
	root := e2eutil.RepoRoot()
	demo := filepath.Join(t.TempDir(), "demo")
	if err := os.CopyFS(demo, os.DirFS(filepath.Join(root, "testdata", "demo"))); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "Corefile.example"))
	if err != nil {
		t.Fatal(err)
	}
	s := e2eutil.StartWith(t, proc, func(p e2eutil.Ports) string {
		return strings.NewReplacer(append(slices.Clone(rewrites),
			"example.com:1053", fmt.Sprintf("example.com:%d", p.DNS),
			"127.0.0.1:1053", fmt.Sprintf("127.0.0.1:%d", p.DNS),
			"example.com:1054", fmt.Sprintf("example.com:%d", p.DNS2),
			"myfederation.svc.cluster.local:1054", fmt.Sprintf("myfederation.svc.cluster.local:%d", p.DNS2),
			"bind 127.0.0.1 ::1", "bind 127.0.0.1",
			"testdata/demo", demo,
			"testdata/geoip/", filepath.Join(root, "testdata", "geoip")+"/",
			"127.0.0.1:9153", fmt.Sprintf("127.0.0.1:%d", p.Metrics),
			"127.0.0.1:8181", fmt.Sprintf("127.0.0.1:%d", p.Ready),
			"health 127.0.0.1:8080", fmt.Sprintf("health 127.0.0.1:%d", p.Health),
			"status 127.0.0.1:8053", fmt.Sprintf("status 127.0.0.1:%d", p.Status),
		)...).Replace(string(example))
	})
	return &server{Server: s, demo: demo, resolver: fmt.Sprintf("127.0.0.1:%d", s.Ports.DNS2)}
}

// editDemo rewrites one cluster's manifests in the server's demo copy: in
// every YAML document that contains marker, old becomes new.
func (s *server) editDemo(t *testing.T, cluster, marker, old, new string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.demo, cluster, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(string(b), "\n---\n")
		changed := false
		for i, d := range docs {
			if strings.Contains(d, marker) {
				docs[i] = strings.ReplaceAll(d, old, new)
				changed = true
			}
		}
		if changed {
			found = true
			e2eutil.WriteFile(t, path, strings.Join(docs, "\n---\n"))
		}
	}
	if !found {
		t.Fatalf("%s: no document with %q in %s", cluster, marker, files)
	}
}

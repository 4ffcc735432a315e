package manifest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/manifest"
)

func TestInitialLoad(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"us-east1-b/nodes.yaml": docs(nodeYAML("n1", "us-east1-b"), nodeYAML("n2", "us-east1-b")),
		"us-east1-b/svc.yml":    docs(serviceYAML("default", "nginx", "192.0.2.1"), sliceYAML("default", "nginx", true, true, false)),
		"eu-west1-c/all.json": `{"apiVersion": "v1", "kind": "List", "items": [
			{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
			{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx"},
			 "spec": {"ports": [{"port": 80}]}}]}`,
		"empty/README.md":         "not a manifest",
		"ignored-file.yaml":       serviceYAML("default", "nope", "192.0.2.9"),
		".hidden/svc.yaml":        serviceYAML("default", "nope", "192.0.2.9"),
		"us-east1-b/.tmp.yaml":    serviceYAML("default", "nope", "192.0.2.9"),
		"us-east1-b/sub/svc.yaml": serviceYAML("default", "nope", "192.0.2.9"),
	})
	synced := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	sink := start(t, dir, manifest.Options{Clock: clock.NewFake(synced)})

	want := map[string]objectCounts{
		"us-east1-b": {Nodes: 2, Services: 1, Slices: 1, Ready: 2},
		"eu-west1-c": {Nodes: 1, Services: 1},
		"empty":      {},
	}
	waitFor(t, 5*time.Second, "three clusters up", func() bool {
		return sink.count("state", "us-east1-b")+sink.count("state", "eu-west1-c")+sink.count("state", "empty") == 3
	})
	for name, w := range want {
		es := sink.snapshot()
		var ops []string
		for _, e := range es {
			if e.cluster == name {
				ops = append(ops, e.op)
			}
		}
		if strings.Join(ops, ",") != "replace,state" {
			t.Errorf("%s: calls %v, want replace then state", name, ops)
		}
		r, _ := sink.last("replace", name)
		if got := countsOf(r.objs); got != w {
			t.Errorf("%s: got %+v, want %+v", name, got, w)
		}
		if !r.objs.Synced.Equal(synced) {
			t.Errorf("%s: Synced %v, want %v", name, r.objs.Synced, synced)
		}
		if st, _ := sink.last("state", name); st.state != health.Up {
			t.Errorf("%s: state %v, want up", name, st.state)
		}
	}
	if n := len(sink.snapshot()); n != 6 {
		t.Errorf("%d calls, want 6: %+v", n, sink.snapshot())
	}
	r, _ := sink.last("replace", "eu-west1-c")
	if s := r.objs.Services[0]; s.Namespace != "default" || s.Name != "nginx" {
		t.Errorf("service without namespace: got %s/%s, want default/nginx", s.Namespace, s.Name)
	}
}

func TestEditSeenWithinASecond(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"c1/svc.yaml": docs(serviceYAML("default", "nginx", "192.0.2.1"), sliceYAML("default", "nginx", true))})
	sink := start(t, dir, manifest.Options{Interval: manifest.DefaultInterval})
	waitFor(t, 5*time.Second, "initial load", func() bool { return sink.count("replace", "c1") == 1 })

	edited := time.Now()
	writeFiles(t, dir, map[string]string{"c1/svc.yaml": docs(serviceYAML("default", "nginx", "192.0.2.1"), sliceYAML("default", "nginx", true, true, true))})
	waitFor(t, 5*time.Second, "the edit", func() bool {
		r, _ := sink.last("replace", "c1")
		return countsOf(r.objs).Ready == 3
	})
	t.Logf("edit seen after %v", time.Since(edited))
	if n := sink.count("replace", "c1"); n != 2 {
		t.Errorf("%d replaces, want 2: a half-written file was applied", n)
	}
	if n := sink.count("state", "c1"); n != 1 {
		t.Errorf("SetState called %d times, want once (the cluster is not new)", n)
	}
}

// TestSameSizeRewrite rewrites a file with content of the same size and
// puts its modification time back, as a write within the file system's
// timestamp granularity would leave it.
func TestSameSizeRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c1", "svc.yaml")
	writeFiles(t, dir, map[string]string{"c1/svc.yaml": serviceYAML("default", "nginx", "192.0.2.1")})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := start(t, dir, manifest.Options{})
	waitFor(t, 5*time.Second, "initial load", func() bool { return sink.count("replace", "c1") == 1 })

	// No change: the racy re-reads find the same hash and replace nothing.
	time.Sleep(100 * time.Millisecond)
	if n := sink.count("replace", "c1"); n != 1 {
		t.Fatalf("unchanged folder replaced %d times, want once", n)
	}

	writeFiles(t, dir, map[string]string{"c1/svc.yaml": serviceYAML("default", "nginx", "192.0.2.2")})
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(path); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("test setup: size or mtime differs")
	}
	waitFor(t, 5*time.Second, "the rewrite", func() bool {
		r, _ := sink.last("replace", "c1")
		return len(r.objs.Services) == 1 && r.objs.Services[0].Addresses[0].String() == "192.0.2.2"
	})
}

func TestMalformedFileKeepsLastGoodState(t *testing.T) {
	tests := []struct {
		name    string
		file    string // the file made malformed
		content string
		reason  string // in the error text
	}{
		{"yaml syntax", "b.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: [\n", "document 1 (line 1): yaml: line 3"},
		{"wrong field type", "b.yaml", serviceYAML("default", "x", "192.0.2.1") + "  extra: 1\n" +
			"---\napiVersion: v1\nkind: Service\nmetadata: {name: y1}\nspec: {ports: [{port: eighty}]}\n",
			"document 2 (line 11): json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32"},
		{"unknown apiVersion", "b.yml", "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: x}\n",
			`EndpointSlice apiVersion "discovery.k8s.io/v1beta1"`},
		{"no kind", "b.yaml", "apiVersion: v1\nmetadata: {name: x}\n", "no kind"},
		{"duplicate key", "b.yaml", "apiVersion: v1\nkind: Node\nkind: Node\nmetadata: {name: x}\n", `"kind" already set`},
		{"bad json", "b.json", `{"apiVersion": "v1", "kind": "Node",}`, "invalid character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// JSON is valid YAML too, so one content fits every file.
			node := func(name string) string {
				return `{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "` + name + `"}}`
			}
			writeFiles(t, dir, map[string]string{"c1/a.yaml": nodeYAML("n1", "us-east1-b"), "c1/" + tc.file: node("n2")})
			sink := start(t, dir, manifest.Options{})
			waitFor(t, 5*time.Second, "initial load", func() bool { return sink.count("replace", "c1") == 1 })

			writeFiles(t, dir, map[string]string{"c1/" + tc.file: tc.content})
			waitFor(t, 5*time.Second, "an error", func() bool { return sink.count("error", "c1") > 0 })
			time.Sleep(100 * time.Millisecond) // ten polls
			if n := sink.count("error", "c1"); n != 1 {
				t.Errorf("%d errors reported, want 1 (once per change)", n)
			}
			if n := sink.count("replace", "c1"); n != 1 {
				t.Errorf("%d replaces, want 1: the malformed file must keep the last good state", n)
			}
			e, _ := sink.last("error", "c1")
			t.Logf("reported: %v", e.err)
			if !errors.Is(e.err, source.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", e.err)
			}
			if msg := e.err.Error(); !strings.Contains(msg, filepath.Join(dir, "c1", tc.file)) || !strings.Contains(msg, tc.reason) {
				t.Errorf("error %q does not name the file and %q", msg, tc.reason)
			}

			writeFiles(t, dir, map[string]string{"c1/" + tc.file: node("n3")})
			waitFor(t, 5*time.Second, "the fix", func() bool {
				r, _ := sink.last("replace", "c1")
				return len(r.objs.Nodes) == 2 && r.objs.Nodes[1].Name == "n3"
			})
		})
	}
}

func TestMalformedNewCluster(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"c1/a.yaml": "kind: Node\napiVersion: v2\n"})
	sink := start(t, dir, manifest.Options{})
	waitFor(t, 5*time.Second, "an error", func() bool { return sink.count("error", "c1") == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := sink.count("replace", "c1") + sink.count("state", "c1"); n != 0 {
		t.Fatalf("a cluster that never loaded was replaced or set up (%d calls)", n)
	}
	writeFiles(t, dir, map[string]string{"c1/a.yaml": "kind: Node\napiVersion: v1\nmetadata: {name: n1}\n"})
	waitFor(t, 5*time.Second, "cluster up", func() bool { return sink.count("state", "c1") == 1 })
	if n := sink.count("replace", "c1"); n != 1 {
		t.Errorf("%d replaces, want 1", n)
	}
}

func TestInvalidObjectSkipped(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"c1/svc.yaml": docs(
			serviceYAML("default", "good", "192.0.2.1"),
			serviceYAML("default", "bad", "192.0.2.256"),
			sliceYAML("default", "good", true),
			serviceYAML("default", "good", "192.0.2.2"), // a duplicate
		),
	})
	sink := start(t, dir, manifest.Options{})
	waitFor(t, 5*time.Second, "cluster up", func() bool { return sink.count("state", "c1") == 1 })

	r, _ := sink.last("replace", "c1")
	if got := countsOf(r.objs); got != (objectCounts{Services: 1, Slices: 1, Ready: 1}) {
		t.Errorf("applied %+v, want the good service and slice", got)
	}
	if a := r.objs.Services[0].Addresses; len(a) != 1 || a[0].String() != "192.0.2.1" {
		t.Errorf("the first definition must win, got %v", a)
	}
	errs := sink.filter("error", "c1")
	wants := []string{
		`document 2 (line 10): service default/bad: status.loadBalancer.ingress[0].ip "192.0.2.256"`,
		`document 4 (line 29): service default/good is already defined in file ` + filepath.Join(dir, "c1", "svc.yaml") + `: document 1 (line 1)`,
	}
	if len(errs) != len(wants) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(wants), errs)
	}
	for i, w := range wants {
		if !errors.Is(errs[i].err, source.ErrInvalid) || !strings.Contains(errs[i].err.Error(), w) {
			t.Errorf("error %d = %v, want ErrInvalid containing %q", i, errs[i].err, w)
		}
	}
}

func TestClusterAddAndRemove(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"c1/n.yaml": nodeYAML("n1", "us-east1-b")})
	sink := start(t, dir, manifest.Options{})
	waitFor(t, 5*time.Second, "c1 up", func() bool { return sink.count("state", "c1") == 1 })

	// Write the new cluster aside (hidden) and rename it in whole.
	writeFiles(t, dir, map[string]string{".c2/n.yaml": nodeYAML("n1", "us-west1-a")})
	if err := os.Rename(filepath.Join(dir, ".c2"), filepath.Join(dir, "c2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "c2 up", func() bool { return sink.count("state", "c2") == 1 })
	if r, ok := sink.last("replace", "c2"); !ok || len(r.objs.Nodes) != 1 || r.objs.Nodes[0].Zone != "us-west1-a" {
		t.Errorf("c2 replace: %+v", r)
	}
	if st, _ := sink.last("state", "c2"); st.state != health.Up {
		t.Errorf("c2 state %v, want up", st.state)
	}

	if err := os.RemoveAll(filepath.Join(dir, "c1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "c1 removed", func() bool { return sink.count("remove", "c1") == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := sink.count("remove", "c2"); n != 0 {
		t.Errorf("c2 removed %d times", n)
	}
	if n := sink.count("remove", "c1"); n != 1 {
		t.Errorf("c1 removed %d times, want once", n)
	}
}

// TestConfigMapSwap publishes a new version the way the kubelet updates a
// ConfigMap volume: new files in a new folder, then an atomic rename of
// the "..data" symbolic link.
func TestConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"..v1/c1/svc.yaml": sliceYAML("default", "nginx", true)})
	for _, l := range [][2]string{{"..v1", "..data"}, {"..data/c1", "c1"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	sink := start(t, dir, manifest.Options{})
	waitFor(t, 5*time.Second, "c1 up", func() bool { return sink.count("state", "c1") == 1 })

	writeFiles(t, dir, map[string]string{"..v2/c1/svc.yaml": sliceYAML("default", "nginx", true, true)})
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the new version", func() bool {
		r, _ := sink.last("replace", "c1")
		return countsOf(r.objs).Ready == 2
	})
	if n := sink.count("error", "c1") + sink.count("remove", "c1"); n != 0 {
		t.Errorf("%d errors or removals during the swap", n)
	}
}

func TestNoFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, dir string }{
		{"missing", filepath.Join(t.TempDir(), "missing")},
		{"a file", file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			sink := &fakeSink{}
			err := manifest.New(tc.dir, manifest.Options{}).Run(ctx, sink)
			if !errors.Is(err, manifest.ErrNoFolder) {
				t.Fatalf("Run = %v, want ErrNoFolder", err)
			}
			if ctx.Err() != nil {
				t.Error("Run waited for the context instead of failing at once")
			}
			if !strings.Contains(err.Error(), tc.dir) {
				t.Errorf("error %q does not name the folder", err)
			}
			if n := len(sink.snapshot()); n != 0 {
				t.Errorf("sink got %d calls", n)
			}
		})
	}
}

// countingLogger counts the warnings that contain a marker.
type countingLogger struct {
	testLogger
	mu     sync.Mutex
	marker string
	n      int
}

func (l *countingLogger) Warningf(f string, a ...any) {
	l.testLogger.Warningf(f, a...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(fmt.Sprintf(f, a...), l.marker) {
		l.n++
	}
}

func (l *countingLogger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// TestFolderNameNotUTF8 (issue 16, item 6): a folder whose name is not
// UTF-8 names no cluster (its name would reach metric labels, where
// client_golang panics on it); it is logged once, quoted, and the other
// clusters are read.
func TestFolderNameNotUTF8(t *testing.T) {
	dir := t.TempDir()
	bad := "bad\xff\n<x>"
	writeFiles(t, dir, map[string]string{"c1/n.yaml": nodeYAML("n1", "us-east1-b"), bad + "/n.yaml": nodeYAML("n1", "us-west1-a")})
	log := &countingLogger{testLogger: testLogger{t}, marker: fmt.Sprintf("folder %q is not read", bad)}
	sink := start(t, dir, manifest.Options{Logger: log})
	waitFor(t, 5*time.Second, "c1 up", func() bool { return sink.count("state", "c1") == 1 })
	time.Sleep(100 * time.Millisecond) // ten polls
	if n := sink.count("state", bad) + sink.count("replace", bad); n != 0 {
		t.Errorf("the folder %q was read as a cluster", bad)
	}
	if n := log.count(); n != 1 {
		t.Errorf("the folder was logged %d times, want once", n)
	}
}

// TestRootUnlistableKeepsState: a folder that cannot be listed for a
// while (an unmounted volume) keeps every cluster, and OnConfig says so
// until it can be listed again.
func TestRootUnlistableKeepsState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	writeFiles(t, dir, map[string]string{"c1/n.yaml": nodeYAML("n1", "us-east1-b")})
	var mu sync.Mutex
	var last error
	calls := 0
	sink := start(t, dir, manifest.Options{OnConfig: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		last, calls = err, calls+1
	}})
	state := func() (error, int) {
		mu.Lock()
		defer mu.Unlock()
		return last, calls
	}
	waitFor(t, 5*time.Second, "c1 up", func() bool { return sink.count("state", "c1") == 1 })
	if err, n := state(); err != nil || n == 0 {
		t.Fatalf("OnConfig after the first listing: %v (%d calls), want nil", err, n)
	}
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "OnConfig with an error", func() bool { err, _ := state(); return err != nil })
	_, n := state()
	waitFor(t, 5*time.Second, "OnConfig called again", func() bool { _, m := state(); return m > n+1 })
	if err, _ := state(); err == nil {
		t.Errorf("OnConfig said nil while the folder was away")
	}
	if got := sink.count("remove", "c1"); got != 0 {
		t.Errorf("c1 removed %d times while the folder could not be listed", got)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "OnConfig nil again", func() bool { err, _ := state(); return err == nil })
	if got := sink.count("remove", "c1"); got != 0 {
		t.Errorf("c1 removed %d times", got)
	}
}

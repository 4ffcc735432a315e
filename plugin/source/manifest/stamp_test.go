package manifest_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/manifest"
)

// base is when stampFolder dates a cluster folder's files: t0 for the
// folder, t0+1s for svc.yaml, t0+2s for nodes.yaml.
var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// stampFolder writes cluster c1 (a Service and a Node in two files) and
// sets its modification times.
func stampFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"c1/svc.yaml":   serviceYAML("default", "nginx", "192.0.2.1"),
		"c1/nodes.yaml": nodeYAML("n1", "us-central1-a"),
	})
	chtime(t, dir, "c1/svc.yaml", base.Add(time.Second))
	chtime(t, dir, "c1/nodes.yaml", base.Add(2*time.Second))
	chtime(t, dir, "c1", base)
	return dir
}

func chtime(t *testing.T, dir, name string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(name)), at, at); err != nil {
		t.Fatal(err)
	}
}

// loadOnce runs a fresh Source on dir (a replica starting) and returns
// what it reports for c1.
func loadOnce(t *testing.T, dir string) source.Objects {
	t.Helper()
	sink := start(t, dir, manifest.Options{})
	waitFor(t, 5*time.Second, "the first load", func() bool { return sink.count("replace", "c1") == 1 })
	r, _ := sink.last("replace", "c1")
	return r.objs
}

func TestStamp(t *testing.T) {
	for _, tc := range []struct {
		name        string
		change      func(t *testing.T, dir string)
		wantChanged time.Time
		wantMoved   bool // the fingerprint differs from the untouched folder's
	}{
		{"untouched: the newest file", func(*testing.T, string) {}, base.Add(2 * time.Second), false},
		{"a newer folder time wins", func(t *testing.T, dir string) { chtime(t, dir, "c1", base.Add(5*time.Second)) }, base.Add(5 * time.Second), true},
		{"a file touched, same content", func(t *testing.T, dir string) { chtime(t, dir, "c1/svc.yaml", base.Add(9*time.Second)) }, base.Add(9 * time.Second), true},
		{"a touch within the same second", func(t *testing.T, dir string) {
			chtime(t, dir, "c1/nodes.yaml", base.Add(2*time.Second+300*time.Millisecond))
		}, base.Add(2*time.Second + 300*time.Millisecond), false},
		{"new content under the old times", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"c1/svc.yaml": serviceYAML("default", "nginx", "192.0.2.2")})
			chtime(t, dir, "c1/svc.yaml", base.Add(time.Second))
		}, base.Add(2 * time.Second), true},
		{"a file removed: the folder's time", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "c1", "nodes.yaml")); err != nil {
				t.Fatal(err)
			}
			chtime(t, dir, "c1", base.Add(7*time.Second))
		}, base.Add(7 * time.Second), true},
		{"an ignored file added", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"c1/README.md": "notes"})
			chtime(t, dir, "c1/README.md", base.Add(8*time.Second))
			chtime(t, dir, "c1", base)
		}, base.Add(2 * time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := stampFolder(t)
			before := loadOnce(t, dir)
			if !before.Changed.Equal(base.Add(2*time.Second)) || before.Fingerprint == 0 {
				t.Fatalf("untouched folder: Changed %v, Fingerprint %d", before.Changed, before.Fingerprint)
			}
			tc.change(t, dir)
			after := loadOnce(t, dir)
			if !after.Changed.Equal(tc.wantChanged) {
				t.Errorf("Changed %v, want %v", after.Changed, tc.wantChanged)
			}
			if moved := after.Fingerprint != before.Fingerprint; moved != tc.wantMoved {
				t.Errorf("fingerprint moved %v, want %v (%d, then %d)", moved, tc.wantMoved, before.Fingerprint, after.Fingerprint)
			}
		})
	}
}

// TestStampTouchReplaces checks that a running source reports a change of
// time alone, as a restarted one would read it.
func TestStampTouchReplaces(t *testing.T) {
	dir := stampFolder(t)
	sink := start(t, dir, manifest.Options{})
	waitFor(t, 5*time.Second, "the first load", func() bool { return sink.count("replace", "c1") == 1 })
	first, _ := sink.last("replace", "c1")
	chtime(t, dir, "c1/svc.yaml", base.Add(30*time.Second))
	waitFor(t, 5*time.Second, "the touch", func() bool { return sink.count("replace", "c1") == 2 })
	r, _ := sink.last("replace", "c1")
	if !r.objs.Changed.Equal(base.Add(30*time.Second)) || r.objs.Fingerprint == first.objs.Fingerprint {
		t.Errorf("after a touch: Changed %v, fingerprint %d (was %d)", r.objs.Changed, r.objs.Fingerprint, first.objs.Fingerprint)
	}
	if countsOf(r.objs) != countsOf(first.objs) {
		t.Errorf("objects %+v, want %+v", countsOf(r.objs), countsOf(first.objs))
	}
}

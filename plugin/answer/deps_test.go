package answer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pureCore are the packages that must build without Kubernetes: the answer
// choice and the model it answers from (which bring in package source's
// small structs and package policy).
var pureCore = []string{"./plugin/answer", "./plugin/model"}

// TestPureCoreHasNoKubernetes fails when a package of the pure core depends,
// even indirectly, on a Kubernetes module: Kubernetes objects are converted
// beside the watcher (plugin/source/kubeobj), never in the core.
func TestPureCoreHasNoKubernetes(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool in PATH: %v", err)
	}
	cmd := exec.Command(goTool, append([]string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, pureCore...)...)
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list in %s: %v\n%s", cmd.Dir, err, ee.Stderr)
		}
		t.Fatalf("go list in %s: %v", cmd.Dir, err)
	}
	var deps, edges []string
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		if isKubernetes(pkg) {
			deps = append(deps, pkg)
			continue
		}
		for imp := range strings.FieldsSeq(imports) {
			if isKubernetes(imp) {
				edges = append(edges, pkg+" imports "+imp)
			}
		}
	}
	if len(deps) > 0 {
		t.Errorf("%s depend on %d Kubernetes packages; they enter through:\n\t%s\nall of them:\n\t%s",
			strings.Join(pureCore, " and "), len(deps), strings.Join(edges, "\n\t"), strings.Join(deps, "\n\t"))
	}
}

// isKubernetes reports whether pkg belongs to a Kubernetes module.
func isKubernetes(pkg string) bool {
	return strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/")
}

// moduleRoot returns the folder of the go.mod above the test's folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

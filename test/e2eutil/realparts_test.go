package e2eutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records failures, skips and cleanups
// instead of acting on them; the rest goes to the real test.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	skipped  bool
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs) > 0
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// run calls f with the recorder on its own goroutine (f may Goexit), then
// the cleanups f registered, last first.
func (r *recorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestRequireRealParts(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{{"", false}, {"false", false}, {"true", true}, {"1", true}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			r.run(func(tb testing.TB) { RequireRealParts(tb, "no kube-apiserver") })
			if r.Failed() != tc.wantFail || r.skipped == tc.wantFail {
				t.Errorf("failed %v (%q), skipped %v; want failed %v", r.Failed(), r.errs, r.skipped, tc.wantFail)
			}
		})
	}
}

// fakeDNS builds testdata/fakedns, with -race when race is set.
func fakeDNS(t *testing.T, race bool) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakedns")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./testdata/fakedns")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build fakedns: %v\n%s", err, out)
	}
	if raceBuilt(bin) != race {
		t.Fatalf("raceBuilt(%s) = %v, want %v", bin, !race, race)
	}
	return bin
}

// TestStartWithFailsOnRace starts a -race build that races at start
// through StartWith: the test must fail when the process stops, naming
// the race; the same binary without the race must not fail it.
func TestStartWithFailsOnRace(t *testing.T) {
	bin := fakeDNS(t, true)
	for _, racy := range []bool{true, false} {
		t.Run(fmt.Sprintf("race=%v", racy), func(t *testing.T) {
			r := &recorder{TB: t}
			r.run(func(tb testing.TB) {
				s := StartWith(tb, Process{Binary: bin, Env: func(Ports) []string {
					if racy {
						return []string{"FAKE_RACE=1"}
					}
					return nil
				}}, func(p Ports) string { return fmt.Sprint(p.Ready) })
				if s.Pid == 0 {
					tb.Errorf("no pid")
				}
			})
			got := strings.Join(r.errs, "\n")
			if racy && !strings.Contains(got, "data race report(s)") || !racy && r.Failed() {
				t.Errorf("racy %v: errors %q", racy, got)
			}
		})
	}
}

// TestStartWithRetriesTakenPort: a start that fails because a port was
// taken is retried with other ports.
func TestStartWithRetriesTakenPort(t *testing.T) {
	bin := fakeDNS(t, false)
	marker := filepath.Join(t.TempDir(), "taken")
	s := StartWith(t, Process{Binary: bin, Env: func(Ports) []string { return []string{"FAKE_TAKEN=" + marker} }},
		func(p Ports) string { return fmt.Sprint(p.Ready) })
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the first start did not fail: %v", err)
	}
	if strings.Contains(s.Out.String(), "already in use") {
		t.Errorf("the output is the failed attempt's: %s", s.Out)
	}
}

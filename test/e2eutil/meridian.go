// Package e2eutil starts the real meridian binary for end-to-end tests and
// talks to it: DNS over real sockets with miekg/dns, metrics and readiness
// over HTTP. Everything binds to 127.0.0.1.
package e2eutil

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the meridian binary under test: $MERIDIAN_BIN (set by
// `make test` to a -race build), else one built once with -race into a
// temporary folder. A test (not a benchmark) given a binary built without
// -race fails under CI: the race detector must watch the product.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("MERIDIAN_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "meridian-e2e-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "meridian")
		cmd := exec.Command("go", "build", "-race", "-o", binPath, "./cmd/meridian")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build -race: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	if _, bench := t.(*testing.B); !bench && !raceBuilt(binPath) {
		if underCI() {
			t.Fatalf("%s was built without -race (make test builds bin/meridian-race)", binPath)
		}
		t.Logf("note: %s was built without -race: data races in it go unseen", binPath)
	}
	return binPath
}

// Meridianctl returns meridianctl built from the repository, once per
// test process.
func Meridianctl(t testing.TB) string {
	t.Helper()
	ctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meridianctl-bin")
		if err != nil {
			ctlErr = err
			return
		}
		ctlPath = filepath.Join(dir, "meridianctl")
		cmd := exec.Command("go", "build", "-o", ctlPath, "./cmd/meridianctl")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			ctlErr = fmt.Errorf("go build meridianctl: %v\n%s", err, out)
		}
	})
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	return ctlPath
}

var (
	ctlOnce sync.Once
	ctlPath string
	ctlErr  error
)

// CoreDNS returns stock CoreDNS built from the same module (`make
// coredns`, which `make test` runs): $MERIDIAN_COREDNS_BIN, else
// bin/coredns.
func CoreDNS(t testing.TB) string {
	t.Helper()
	p := os.Getenv("MERIDIAN_COREDNS_BIN")
	if p == "" {
		p = filepath.Join(RepoRoot(), "bin", "coredns")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("stock CoreDNS: %v (run `make coredns`)", err)
	}
	return p
}

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Server is a running meridian process.
type Server struct {
	DNS, Metrics, Ready string // host:port
	Status              string // host:port of the status listener, if the Corefile has one
	Ports               Ports  // the ports its Corefile was filled with
	Corefile            string // its path, for tests that rewrite it and reload (SIGUSR1)
	Out                 *SyncBuffer
	Pid                 int
	Started             time.Time // when the process was started
	ReadyAfter          time.Duration

	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process has exited
	stopOnce sync.Once
}

// Ports are the loopback ports a Corefile template is filled with. DNS2 is
// for a second server block.
type Ports struct{ DNS, DNS2, Metrics, Ready, Health, Status int }

// Start writes the Corefile that corefile returns for free ports into a
// temporary folder, starts meridian on it and waits until it is ready. The
// process is stopped when the test ends.
func Start(t testing.TB, corefile func(Ports) string) *Server {
	t.Helper()
	return StartWith(t, Process{}, corefile)
}

// Process says how StartWith runs a CoreDNS binary.
type Process struct {
	Binary string // "" means Binary(t), the meridian binary under test
	// Args come after -conf FILE; they may use the ports (-dns.port).
	Args func(Ports) []string
	// Env is added to the test's environment; it may use the ports, for
	// Corefiles that take their addresses from {$VAR}s.
	Env func(Ports) []string
	// BeforeReady, if set, is called as soon as the process has started,
	// before Start waits for it to be ready: a test of what it answers
	// while it starts begins asking there.
	BeforeReady func(*Server)
}

// errPortTaken is a start that failed because another process took one
// of the ports between FreePort and the bind.
var errPortTaken = errors.New("a port was taken")

// StartWith is Start for any CoreDNS binary: stock CoreDNS, or meridian
// with extra arguments and environment. The Corefile must serve the ready
// plugin on 127.0.0.1:Ports.Ready. A start that fails because a port was
// taken is retried with other ports. When the test ends the process is
// stopped, and a data race report in its output fails the test.
func StartWith(t testing.TB, proc Process, corefile func(Ports) string) *Server {
	t.Helper()
	bin := proc.Binary
	if bin == "" {
		bin = Binary(t)
	}
	for attempt := 1; ; attempt++ {
		s, err := startOnce(t, bin, proc, corefile)
		if err == nil {
			return s
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			t.Fatalf("%s: %v; output:\n%s", filepath.Base(bin), err, s.Out)
		}
		t.Logf("%s: %v (attempt %d); again with other ports", filepath.Base(bin), err, attempt)
	}
}

// startOnce starts the process once on fresh ports and waits until it is
// ready or has exited.
func startOnce(t testing.TB, bin string, proc Process, corefile func(Ports) string) (*Server, error) {
	t.Helper()
	free, release := reservePorts(t, 5)
	defer release() // once ready or gone: its own sockets hold the ports then
	status := FreePort(t)
	for slices.Contains(free, status) {
		status = FreePort(t)
	}
	p := Ports{DNS: free[0], DNS2: free[1], Metrics: free[2], Ready: free[3], Health: free[4], Status: status}
	s := &Server{
		DNS:     fmt.Sprintf("127.0.0.1:%d", p.DNS),
		Metrics: fmt.Sprintf("127.0.0.1:%d", p.Metrics),
		Ready:   fmt.Sprintf("127.0.0.1:%d", p.Ready),
		Status:  fmt.Sprintf("127.0.0.1:%d", p.Status),
		Ports:   p,
		Out:     &SyncBuffer{},
		exited:  make(chan struct{}),
	}
	cf := filepath.Join(t.TempDir(), "Corefile")
	s.Corefile = cf
	if err := os.WriteFile(cf, []byte(corefile(p)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-conf", cf}
	if proc.Args != nil {
		args = append(args, proc.Args(p)...)
	}
	s.cmd = exec.Command(bin, args...)
	if proc.Env != nil {
		s.cmd.Env = append(os.Environ(), proc.Env(p)...)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.Out, s.Out
	s.Started = time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Pid = s.cmd.Process.Pid
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.Stop(t) })
	if proc.BeforeReady != nil {
		proc.BeforeReady(s)
	}
	if err := s.waitReady(120 * time.Second); err != nil {
		return s, err
	}
	s.ReadyAfter = time.Since(s.Started)
	return s, nil
}

// Stop stops the process (SIGINT, SIGKILL after 10 s) and fails t if its
// output holds a data race report. Only the first call does anything; the
// test's cleanup calls it.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stopOnce.Do(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		checkRaces(t, filepath.Base(s.cmd.Path), s.Out.String())
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(s.cmd.Path), s.Out)
		}
	})
}

// RSS returns the process's resident memory in bytes.
func (s *Server) RSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// CPUTime returns the CPU time the process has used, user and system,
// from /proc (in clock ticks of 10 ms).
func (s *Server) CPUTime(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is the first, utime the 12th, stime the 13th.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", s.Pid, b)
	}
	var user, sys int64
	fmt.Sscan(f[11], &user)
	fmt.Sscan(f[12], &sys)
	return time.Duration(user+sys) * 10 * time.Millisecond
}

// waitReady polls the ready endpoint until it answers 200, the process
// exits or limit passes.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.Ready + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			if strings.Contains(s.Out.String(), "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("exited before it was ready (%v)", s.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %v", limit)
}

// Pin binds every thread of process pid (0: this test process) to one CPU
// with taskset, so that a load generator and a server under measurement
// do not share a core; threads made later inherit it.
func Pin(t testing.TB, pid, cpu int) {
	t.Helper()
	if pid == 0 {
		pid = os.Getpid()
	}
	if out, err := exec.Command("taskset", "-a", "-p", "-c", fmt.Sprint(cpu), fmt.Sprint(pid)).CombinedOutput(); err != nil {
		t.Fatalf("taskset %d to CPU %d: %v: %s", pid, cpu, err, out)
	}
}

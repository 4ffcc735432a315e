// Package e2e starts the real meridian binary on loopback and talks DNS to
// it over real sockets, with miekg/dns and, where installed, dig and kdig.
package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the meridian binary under test: $MERIDIAN_BIN (set by `make
// test`), else built once into a temporary folder.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func meridianBinary(t *testing.T) string {
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
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/meridian").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// repoRoot is the repository's top folder.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// server is a running meridian process.
type server struct {
	dns, metrics, ready string // host:port
	demo                string // its private copy of testdata/demo
	out                 *syncBuffer
}

// syncBuffer is the process's output, written by exec's copier goroutine
// while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDemo copies the demo federation into a temporary folder and starts
// meridian on it with Corefile.example, ports and paths rewritten.
func startDemo(t *testing.T) *server {
	t.Helper()
	root := repoRoot()
	dir := t.TempDir()
	s := &server{demo: filepath.Join(dir, "demo"), out: &syncBuffer{}}
	if err := os.CopyFS(s.demo, os.DirFS(filepath.Join(root, "testdata", "demo"))); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "Corefile.example"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s.dns = fmt.Sprintf("127.0.0.1:%d", port)
	s.metrics = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.ready = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	corefile := strings.NewReplacer(
		"example.com:1053", fmt.Sprintf("example.com:%d", port),
		"bind 127.0.0.1 ::1", "bind 127.0.0.1",
		"testdata/demo", s.demo,
		"testdata/geoip/", filepath.Join(root, "testdata", "geoip")+"/",
		"127.0.0.1:9153", s.metrics,
		"127.0.0.1:8181", s.ready,
		"health 127.0.0.1:8080", fmt.Sprintf("health 127.0.0.1:%d", freePort(t)),
	).Replace(string(example))
	cf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(cf, []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(meridianBinary(t), "-conf", cf)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("meridian output:\n%s", s.out)
		}
	})
	s.waitReady(t)
	return s
}

func (s *server) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.ready + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("meridian not ready after 30s; output:\n%s", s.out)
}

// scrape returns the metrics page.
func (s *server) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// editDemo rewrites one cluster's services.yaml in the server's demo copy:
// in the YAML document that contains marker, old becomes new.
func (s *server) editDemo(t *testing.T, cluster, marker, old, new string) {
	t.Helper()
	path := filepath.Join(s.demo, cluster, "services.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(b), "\n---\n")
	found := false
	for i, d := range docs {
		if strings.Contains(d, marker) {
			docs[i] = strings.ReplaceAll(d, old, new)
			found = true
		}
	}
	if !found {
		t.Fatalf("%s: no document with %q", path, marker)
	}
	writeFile(t, path, strings.Join(docs, "\n---\n"))
}

// writeFile replaces path's content the way editors and ConfigMap updates
// do: write a temporary file, then rename it over the old one.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Package e2eutil starts the real meridian binary for end-to-end tests and
// talks to it: DNS over real sockets with miekg/dns, metrics and readiness
// over HTTP. Everything binds to 127.0.0.1.
package e2eutil

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

	"github.com/miekg/dns"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the meridian binary under test: $MERIDIAN_BIN (set by
// `make test`), else one built once into a temporary folder.
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
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/meridian")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

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
	Out                 *SyncBuffer
	Pid                 int
	Started             time.Time // when the process was started
	ReadyAfter          time.Duration
}

// Ports are the loopback addresses a Corefile template is filled with.
type Ports struct{ DNS, Metrics, Ready, Health int }

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
}

// StartWith is Start for any CoreDNS binary: stock CoreDNS, or meridian
// with extra arguments and environment. The Corefile must serve the ready
// plugin on 127.0.0.1:Ports.Ready.
func StartWith(t testing.TB, proc Process, corefile func(Ports) string) *Server {
	t.Helper()
	p := Ports{DNS: FreePort(t), Metrics: FreePort(t), Ready: FreePort(t), Health: FreePort(t)}
	s := &Server{
		DNS:     fmt.Sprintf("127.0.0.1:%d", p.DNS),
		Metrics: fmt.Sprintf("127.0.0.1:%d", p.Metrics),
		Ready:   fmt.Sprintf("127.0.0.1:%d", p.Ready),
		Out:     &SyncBuffer{},
	}
	cf := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(cf, []byte(corefile(p)), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := proc.Binary
	if bin == "" {
		bin = Binary(t)
	}
	args := []string{"-conf", cf}
	if proc.Args != nil {
		args = append(args, proc.Args(p)...)
	}
	cmd := exec.Command(bin, args...)
	if proc.Env != nil {
		cmd.Env = append(os.Environ(), proc.Env(p)...)
	}
	cmd.Stdout, cmd.Stderr = s.Out, s.Out
	s.Started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Pid = cmd.Process.Pid
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
			t.Logf("meridian output:\n%s", s.Out)
		}
	})
	s.waitReady(t, 120*time.Second)
	s.ReadyAfter = time.Since(s.Started)
	return s
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

func (s *Server) waitReady(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.Ready + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("meridian not ready after %v; output:\n%s", limit, s.Out)
}

// Scrape returns the metrics page.
func (s *Server) Scrape(t testing.TB) string {
	t.Helper()
	resp, err := http.Get("http://" + s.Metrics + "/metrics")
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

// HasMetric reports whether the metrics page has a line starting with
// series (name and labels) followed by value.
func (s *Server) HasMetric(t testing.TB, series, value string) bool {
	for _, line := range strings.Split(s.Scrape(t), "\n") {
		if strings.HasPrefix(line, series+" ") && strings.TrimSpace(strings.TrimPrefix(line, series)) == value {
			return true
		}
	}
	return false
}

// Ask sends one query for name/qtype, with a client subnet when subnet is
// not "", over network ("udp" or "tcp"), and returns the reply.
func (s *Server) Ask(t testing.TB, network, name string, qtype uint16, subnet string) *dns.Msg {
	t.Helper()
	r, err := s.Exchange(network, name, qtype, subnet)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

// Exchange is Ask that returns the error instead of failing the test.
func (s *Server) Exchange(network, name string, qtype uint16, subnet string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if subnet != "" {
		_, ipnet, err := net.ParseCIDR(subnet)
		if err != nil {
			return nil, err
		}
		bits, _ := ipnet.Mask.Size()
		fam := uint16(1)
		if ipnet.IP.To4() == nil {
			fam = 2
		}
		m.SetEdns0(1232, false)
		o := m.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(bits), Address: ipnet.IP})
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.DNS)
	return r, err
}

// Addrs returns the A and AAAA addresses of an answer.
func Addrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	return out
}

// InRange reports whether addrs is not empty and every one starts with prefix.
func InRange(addrs []string, prefix string) bool {
	if len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, prefix) {
			return false
		}
	}
	return true
}

// Subnet returns the client-subnet option of a reply, or nil.
func Subnet(m *dns.Msg) *dns.EDNS0_SUBNET {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return s
			}
		}
	}
	return nil
}

// Eventually polls cond every 20ms until it holds or limit passes, and
// returns how long it took.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// FreePort returns a port free for both UDP and TCP on 127.0.0.1.
func FreePort(t testing.TB) int {
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

// SyncBuffer is a process's output, written by exec's copier goroutine
// while tests read it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WriteFile replaces path's content the way editors and ConfigMap updates
// do: write a temporary file, then rename it over the old one.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

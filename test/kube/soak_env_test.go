package kube

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// probeTarget is an HTTP health endpoint on 127.0.0.1 that a soak
// closes and opens again on the same port.
type probeTarget struct {
	mu   sync.Mutex
	port int
	srv  *http.Server
}

// newProbeTarget starts a target on a free port; it stops with the test.
func newProbeTarget(t *testing.T) *probeTarget {
	p := &probeTarget{}
	if err := p.open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// open listens again, on the port of before when there was one.
func (p *probeTarget) open() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		return fmt.Errorf("probe target: %w", err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	p.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})}
	go p.srv.Serve(l)
	return nil
}

// close stops listening: connections are refused.
func (p *probeTarget) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		p.srv.Close()
		p.srv = nil
	}
}

// addProbed creates the federated Service probed behind a load balancer at
// 127.0.0.1:port, probed over HTTP, with 3 ready endpoints.
func addProbed(t *testing.T, c kubernetes.Interface, m member, port int) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "probed", Namespace: "default", Labels: map[string]string{fedLabel: "myfed"},
			Annotations: map[string]string{"meridian.dev/probe": "http", "meridian.dev/probe-path": "/healthz",
				"meridian.dev/probe-interval": "1s", "meridian.dev/probe-timeout": "500ms",
				"meridian.dev/rise": "2", "meridian.dev/fall": "2"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: int32(port), Protocol: corev1.ProtocolTCP}}},
	}
	s, err := c.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: probed: %v", m.name, err)
	}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "127.0.0.1"}}
	if _, err := c.CoreV1().Services("default").UpdateStatus(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s: probed status: %v", m.name, err)
	}
	if _, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx, slice("probed", 3), metav1.CreateOptions{}); err != nil {
		t.Fatalf("%s: probed slice: %v", m.name, err)
	}
}

// movedGeoIP returns the test GeoIP database with Paris (81.0.0.0/16) moved
// to Tokyo's coordinates, so its clients are closest to asia-east1.
func movedGeoIP(t *testing.T, src string) []byte {
	t.Helper()
	tree, err := mmdbwriter.Load(src, mmdbwriter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, paris, _ := net.ParseCIDR("81.0.0.0/16")
	_, rec := tree.Get(paris.IP)
	m, ok := rec.(mmdbtype.Map)
	if !ok {
		t.Fatalf("Paris record: %T", rec)
	}
	moved := mmdbtype.Map{}
	for k, v := range m {
		moved[k] = v
	}
	moved["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(35.6762), "longitude": mmdbtype.Float64(139.6503),
		"accuracy_radius": mmdbtype.Uint16(50)}
	if err := tree.Insert(paris, moved); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// replaceFile writes data beside path and renames it over path.
func replaceFile(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), ".new-"+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// udpDrops sums the kernel's drop counts (/proc/net/udp) of the IPv4 UDP
// sockets bound to any of ports: datagrams that found a full receive
// buffer.
func udpDrops(ports ...int) (int64, error) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	var sum int64
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 {
			continue
		}
		_, hexPort, _ := strings.Cut(fields[1], ":")
		port, err := strconv.ParseInt(hexPort, 16, 32)
		if err != nil || !want[int(port)] {
			continue
		}
		n, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/net/udp: %q: %w", sc.Text(), err)
		}
		sum += n
	}
	return sum, sc.Err()
}

// sample is one reading of the server's resident memory and goroutines.
type sample struct {
	at         time.Duration // since the load began
	rss        int64
	goroutines int64
}

// readSample reads the RSS from /proc and go_goroutines from the metrics.
func readSample(s *e2eutil.Server) (sample, error) {
	var out sample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid))
	if err != nil {
		return out, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			out.rss = kb * 1024
		}
	}
	resp, err := http.Get("http://" + s.Metrics + "/metrics")
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			out.goroutines, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return out, err
		}
	}
	return out, fmt.Errorf("no go_goroutines on the metrics page")
}

// inWindow returns the mean RSS, and the median and lowest goroutine
// counts, of the samples taken in [from, to). The lowest is what a leak
// moves: a leaked goroutine is in every sample, while a query that waits
// for the chain holds one (miekg/dns serves each UDP packet in its own) only
// while it waits, so the median rises whenever the server falls behind.
func inWindow(samples []sample, from, to time.Duration) (rss, goroutines, floor float64, n int) {
	var gs []int64
	for _, s := range samples {
		if s.at >= from && s.at < to {
			rss += float64(s.rss)
			gs = append(gs, s.goroutines)
		}
	}
	if len(gs) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(gs)
	return rss / float64(len(gs)), float64(gs[len(gs)/2]), float64(gs[0]), len(gs)
}

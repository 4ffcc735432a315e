package kube

import (
	"context"
	"fmt"
	"io"
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

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

var scaleRegions = []string{"us-central1", "us-east1", "us-west1", "europe-west1", "europe-west3",
	"asia-east1", "asia-northeast1", "asia-southeast1", "australia-southeast1", "southamerica-east1"}

// BenchmarkScale runs Meridian over 10 real API servers holding 10,000
// federated Services each (100,000 shards; MERIDIAN_SCALE_SERVICES changes
// the count) and reports: the time to create them, Meridian's time to
// ready and RSS after sync, and its query throughput against a federation
// of 10 Services on the same API servers, measured side by side: both
// servers pinned to CPU 1, everything else to CPU 0; five alternating
// rounds of 5 s of dnsperf (saturated, qps-ratio; with the servers' CPU
// time a query, cpu-ratio, small's over big's), then three of four
// clients each waiting for its reply (latency-bound, go-qps-ratio, as
// this benchmark measured before), medians; and how long one changed
// EndpointSlice takes to reach the answers (flip-down-p50-ms and
// flip-up-p50-ms, hysteresis included).
// `make bench-scale` runs it once. Both servers run the UDP fast path
// (`fastpath`), as an authoritative server meant for load does;
// MERIDIAN_SCALE_FASTPATH=0 leaves every query to the chain.
//
// With MERIDIAN_SCALE_INGRESSES=M, each cluster also holds M Ingresses,
// host-NNNNN.example.com with the backends svc-NNNNN and the next Service
// (`make bench-scale-ingress`: 5,000 of each per cluster), and the flips
// are timed at host-00000.example.com too (host-flip-*), whose first
// backend is the flipped svc-00000; the -max-ms figures are the slowest
// of five, the p99 of so few.
//
// Creating the objects takes about 40 minutes on 2 cores. With
// MERIDIAN_SCALE_DATA=DIR, etcd keeps its data in DIR and a later run with
// the same count starts its API servers on it and skips the creating
// (populate-s is then 0): for profiling, not for the figures of record.
func BenchmarkScale(b *testing.B) {
	n, m := 10000, 0
	if v := os.Getenv("MERIDIAN_SCALE_SERVICES"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("MERIDIAN_SCALE_INGRESSES"); v != "" {
		m, _ = strconv.Atoi(v)
	}
	f, populated := startScaleFederation(b, n, m)
	start := time.Now()
	if !populated {
		var wg sync.WaitGroup
		for i, region := range scaleRegions {
			name := fmt.Sprintf("member-%d", i+1)
			c := f.admin[name]
			addNode(b, c, member{name: name, region: region, zone: region + "-a"})
			if _, err := c.CoreV1().Namespaces().Create(context.Background(),
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "small"}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			wg.Go(func() { populate(b, c, i, n, m) })
		}
		wg.Wait()
		b.Logf("created %d services with their status and slices and %d ingresses in %d clusters in %v", n, m, len(scaleRegions), time.Since(start).Round(time.Second))
		f.markPopulated(b)
	}
	b.ReportMetric(time.Since(start).Seconds(), "populate-s")

	kubeconfig := filepath.Join(b.TempDir(), "kubeconfig")
	names := make([]string, len(scaleRegions))
	for i := range names {
		names[i] = fmt.Sprintf("member-%d", i+1)
	}
	f.writeKubeconfig(b, kubeconfig, names...)
	dir := os.Getenv("MERIDIAN_SCALE_PROFILE")
	big, bigProf := startProfiledMeridian(b, kubeconfig, "default", dir)
	small, smallProf := startProfiledMeridian(b, kubeconfig, "small", dir)
	time.Sleep(2 * time.Second) // let the first rebuilds settle before reading RSS
	b.ReportMetric(big.ReadyAfter.Seconds(), "ready-s")
	b.ReportMetric(float64(big.RSS(b))/(1<<20), "rss-MiB")
	b.ReportMetric(float64(small.RSS(b))/(1<<20), "small-rss-MiB")
	bigProf.heap("heap-big.pb.gz") // after RSS: its GC would lower it
	smallProf.heap("heap-small.pb.gz")

	// Both servers on CPU 1; the load generators (dnsperf, this process)
	// and the API servers and etcd on CPU 0.
	e2eutil.Pin(b, big.Pid, 1)
	e2eutil.Pin(b, small.Pid, 1)
	e2eutil.Pin(b, 0, 0)
	f.pin(b, 0)
	bigQ, smallQ := scaleQueries("svc-%05d.default", n), scaleQueries("small-%d.small", 10)
	// Saturated: dnsperf with 100 queries in flight, five alternating
	// rounds (drift on this noisy machine hits both alike), medians.
	// Each round also reads the server's CPU time: its CPU per query,
	// whose ratio (cpu-ratio) is the capacity ratio when dnsperf, on a
	// core it shares with the API servers, cannot saturate the server.
	var bigQPS, smallQPS, bigCPU, smallCPU []float64
	for round := range 5 {
		for _, x := range []struct {
			s    *e2eutil.Server
			q    [][]byte
			qps  *[]float64
			cpu  *[]float64
			prof *profiler
			name string
		}{{small, smallQ, &smallQPS, &smallCPU, smallProf, "cpu-small.pb.gz"}, {big, bigQ, &bigQPS, &bigCPU, bigProf, "cpu-big.pb.gz"}} {
			if round == 2 { // the middle round, profiled
				x.prof.cpu(x.name, 4)
			}
			before := x.s.CPUTime(b)
			r := e2eutil.Dnsperf(b, x.s.DNS, x.q, 5*time.Second, 0)
			used := x.s.CPUTime(b) - before
			x.prof.wait()
			if r.NoError != r.Sent-r.Lost {
				b.Fatalf("%d of %d replies were not NOERROR:\n%s", r.Sent-r.Lost-r.NoError, r.Sent-r.Lost, r.RawOutput)
			}
			*x.qps = append(*x.qps, r.QPS)
			*x.cpu = append(*x.cpu, float64(used.Nanoseconds())/float64(r.Sent-r.Lost))
		}
	}
	// Latency-bound, as this benchmark measured before dnsperf: four
	// clients each waiting for its reply; every reply checked for an
	// answer.
	var bigGo, smallGo []float64
	for range 3 {
		sr := e2eutil.Load(small.DNS, smallQ, 4, 5*time.Second)
		br := e2eutil.Load(big.DNS, bigQ, 4, 5*time.Second)
		if sr.Bad+br.Bad > 0 {
			b.Fatalf("replies that were not NOERROR with an answer: %d (small) and %d (big)", sr.Bad, br.Bad)
		}
		smallGo, bigGo = append(smallGo, sr.QPS), append(bigGo, br.QPS)
	}
	bigProf.cpu("cpu-flips.pb.gz", 10)
	down, up := flipAtScale(b, f.admin["member-1"], big, "svc-00000.default.myfed.svc.example.com.")
	bigProf.wait()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(down[len(down)/2]), "flip-down-p50-ms")
	b.ReportMetric(ms(up[len(up)/2]), "flip-up-p50-ms")
	b.ReportMetric(ms(slices.Max(down)), "flip-down-max-ms")
	b.ReportMetric(ms(slices.Max(up)), "flip-up-max-ms")
	if m > 0 {
		down, up := flipAtScale(b, f.admin["member-1"], big, "host-00000.example.com.")
		b.ReportMetric(ms(down[len(down)/2]), "host-flip-down-p50-ms")
		b.ReportMetric(ms(up[len(up)/2]), "host-flip-up-p50-ms")
		b.ReportMetric(ms(slices.Max(down)), "host-flip-down-max-ms")
		b.ReportMetric(ms(slices.Max(up)), "host-flip-up-max-ms")
	}
	b.ReportMetric(median(bigQPS), "qps")
	b.ReportMetric(median(smallQPS), "small-qps")
	b.ReportMetric(median(bigQPS)/median(smallQPS), "qps-ratio")
	b.ReportMetric(median(bigCPU), "cpu-ns/query")
	b.ReportMetric(median(smallCPU), "small-cpu-ns/query")
	b.ReportMetric(median(smallCPU)/median(bigCPU), "cpu-ratio")
	b.ReportMetric(median(bigGo)/median(smallGo), "go-qps-ratio")
	b.ReportMetric(0, "ns/op")
	b.Logf("dnsperf rounds: 100k shards %v, 100 shards %v", bigQPS, smallQPS)
	b.Logf("server CPU ns a query: 100k shards %v, 100 shards %v", bigCPU, smallCPU)
	b.Logf("4 waiting clients: 100k shards %v, 100 shards %v", bigGo, smallGo)
}

// flipAtScale takes the ready endpoints of svc-00000 in member-1 away and
// gives them back, five times each, and returns how long the big server
// took to move its answer at name (svc-00000's global name, or a host it
// is a backend of) each way (sorted): from the API server's reply to the
// update to the first answer that shows it. A client with no
// location is answered by member-1 while it is ready, by another cluster
// while not. The passive hysteresis is part of it: with the defaults a
// shard falls after (fall-1) x 250 ms = 500 ms and rises after 250 ms
// (docs/health.md), so the rest is Meridian's work at this scale.
func flipAtScale(b *testing.B, c kubernetes.Interface, s *e2eutil.Server, name string) (down, up []time.Duration) {
	ctx := context.Background()
	answer := func() string {
		r, err := s.Exchange("udp", name, dns.TypeA, "")
		if err != nil {
			return ""
		}
		return strings.Join(e2eutil.Addrs(r), ",")
	}
	ready := answer()
	e, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "svc-00000-1", metav1.GetOptions{})
	if err != nil || ready == "" {
		b.Fatalf("svc-00000 before the flips: answer %q, slice: %v", ready, err)
	}
	for i := range 10 {
		n := 3 * (i % 2) // 0, 3, 0, ...: ends as populated
		e.Endpoints = slice("svc-00000", n).Endpoints
		if e, err = c.DiscoveryV1().EndpointSlices("default").Update(ctx, e, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		for {
			got := answer()
			if got != "" && (got == ready) == (n > 0) {
				break
			}
			if time.Since(acked) > 10*time.Second {
				b.Fatalf("flip %d: the answer stayed %q for 10s", i, got)
			}
		}
		if n == 0 {
			down = append(down, time.Since(acked))
		} else {
			up = append(up, time.Since(acked))
		}
	}
	slices.Sort(down)
	slices.Sort(up)
	b.Logf("flips at scale, %s: down %v, up %v", name, down, up)
	return down, up
}

// median returns the median of xs (the upper one of an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// populate creates n federated Services in namespace default and 10 in
// namespace small, each with its load-balancer status and an EndpointSlice
// of 3 ready endpoints, and m federated Ingresses in namespace default,
// host-NNNNN.example.com with the backends svc-NNNNN and the next one,
// each with its load-balancer status. It runs on its own goroutine: errors
// are b.Error.
func populate(b *testing.B, c kubernetes.Interface, cluster, n, m int) {
	type job struct {
		ns, name string
		ip       string
		ingress  int // the Ingress's number + 1; 0 for a Service
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for j := range jobs {
				create := func() error { return createService(c, j.ns, j.name, j.ip) }
				if j.ingress > 0 {
					i := j.ingress - 1
					create = func() error {
						return createIngress(c, j.name, j.ip, fmt.Sprintf("svc-%05d", i%n), fmt.Sprintf("svc-%05d", (i+1)%n))
					}
				}
				if err := create(); err != nil {
					b.Error(err) // not Fatal: this is not the benchmark's goroutine
				}
			}
		})
	}
	for i := range n {
		idx := cluster*n + i // 198.18.0.0/15 (RFC 2544, benchmarking) holds 131,072
		jobs <- job{"default", fmt.Sprintf("svc-%05d", i), fmt.Sprintf("198.%d.%d.%d", 18+idx>>16, idx>>8&255, idx&255), 0}
	}
	for i := range 10 {
		jobs <- job{"small", fmt.Sprintf("small-%d", i), fmt.Sprintf("198.19.255.%d", cluster*10+i), 0}
	}
	for i := range m {
		idx := len(scaleRegions)*n + cluster*m + i // above every Service's
		jobs <- job{"default", fmt.Sprintf("host-%05d", i), fmt.Sprintf("198.%d.%d.%d", 18+idx>>16, idx>>8&255, idx&255), i + 1}
	}
	close(jobs)
	wg.Wait()
}

func createService(c kubernetes.Interface, ns, name, ip string) error {
	ctx := context.Background()
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{fedLabel: "myfed"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: ptr(false),
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	s, err := c.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("service %s/%s: %w", ns, name, err)
	}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	if _, err := c.CoreV1().Services(ns).UpdateStatus(ctx, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("service %s/%s status: %w", ns, name, err)
	}
	e := slice(name, 3)
	e.Namespace = ns
	if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(ctx, e, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("endpointslice %s/%s: %w", ns, name, err)
	}
	return nil
}

// createIngress creates the federated Ingress default/name for
// name.example.com with the two backends, and its load-balancer status.
func createIngress(c kubernetes.Interface, name, ip, backend1, backend2 string) error {
	ctx := context.Background()
	prefix := networkingv1.PathTypePrefix
	path := func(p, svc string) networkingv1.HTTPIngressPath {
		return networkingv1.HTTPIngressPath{Path: p, PathType: &prefix, Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}}
	}
	in := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{fedLabel: "myfed"}},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: name + ".example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				path("/", backend1), path("/api", backend2)}}}}}}}
	in, err := c.NetworkingV1().Ingresses("default").Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("ingress %s: %w", name, err)
	}
	in.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: ip}}
	if _, err := c.NetworkingV1().Ingresses("default").UpdateStatus(ctx, in, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("ingress %s status: %w", name, err)
	}
	return nil
}

// startScaleFederation starts the scale benchmark's API servers, on the
// data of MERIDIAN_SCALE_DATA when it is set, and reports whether that data
// already holds n services and m ingresses per cluster.
func startScaleFederation(b *testing.B, n, m int) (_ *federation, populated bool) {
	data := os.Getenv("MERIDIAN_SCALE_DATA")
	if data == "" {
		return startFederation(b, len(scaleRegions)), false
	}
	name := fmt.Sprintf("populated-%d", n)
	if m > 0 {
		name += fmt.Sprintf("-%d", m)
	}
	etcd, marker := filepath.Join(data, "etcd"), filepath.Join(data, name)
	if _, err := os.Stat(marker); err != nil {
		// Another count, or a run stopped halfway: start again. Only what
		// this benchmark put there goes: DIR itself is the caller's.
		old, _ := filepath.Glob(filepath.Join(data, "populated-*"))
		for _, p := range append(old, etcd) {
			if err := os.RemoveAll(p); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.MkdirAll(data, 0o755); err != nil {
			b.Fatal(err)
		}
		populated = false
	} else {
		populated = true
		b.Logf("reusing the objects in %s", data)
	}
	f := startFederation(b, len(scaleRegions), "--etcd-data", etcd)
	f.marker = marker
	return f, populated
}

// markPopulated records that the kept etcd data is complete.
func (f *federation) markPopulated(b *testing.B) {
	if f.marker == "" || b.Failed() {
		return
	}
	if err := os.WriteFile(f.marker, nil, 0o644); err != nil {
		b.Fatal(err)
	}
}

func startScaleMeridian(b *testing.B, kubeconfig, namespace string) *e2eutil.Server {
	s, _ := startProfiledMeridian(b, kubeconfig, namespace, "")
	return s
}

// profiler fetches profiles from CoreDNS's pprof plugin into dir; a nil
// profiler does nothing.
type profiler struct {
	b    *testing.B
	addr string // the pprof plugin's 127.0.0.1:port
	dir  string
	wg   sync.WaitGroup
}

// startProfiledMeridian is startScaleMeridian with CoreDNS's pprof plugin
// on 127.0.0.1 when dir is not "", and a profiler for it (nil without).
func startProfiledMeridian(b *testing.B, kubeconfig, namespace, dir string) (*e2eutil.Server, *profiler) {
	var p *profiler
	var server []string
	if dir != "" {
		p = &profiler{b: b, addr: fmt.Sprintf("127.0.0.1:%d", e2eutil.FreePort(b)), dir: dir}
		server = []string{"pprof " + p.addr}
	}
	extra := []string{"namespaces " + namespace, "startup_timeout 120s", "shard_metrics off"}
	if os.Getenv("MERIDIAN_SCALE_FASTPATH") != "0" {
		extra = append(extra, "fastpath")
	}
	s := startMeridianBlock(b, kubeconfig, server, extra...)
	return s, p
}

// heap saves the heap profile, after a GC, as name.
func (p *profiler) heap(name string) {
	if p != nil {
		p.fetch("heap?gc=1", name)
	}
}

// cpu starts saving a CPU profile of the next secs seconds as name; wait
// waits for it.
func (p *profiler) cpu(name string, secs int) {
	if p != nil {
		p.wg.Go(func() { p.fetch(fmt.Sprintf("profile?seconds=%d", secs), name) })
	}
}

func (p *profiler) wait() {
	if p != nil {
		p.wg.Wait()
	}
}

func (p *profiler) fetch(what, name string) {
	resp, err := http.Get("http://" + p.addr + "/debug/pprof/" + what)
	if err != nil {
		p.b.Error(err) // not Fatal: cpu runs on its own goroutine
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(filepath.Join(p.dir, name), body, 0o644)
	}
	if err != nil {
		p.b.Error(err)
		return
	}
	p.b.Logf("profile: go tool pprof %s", filepath.Join(p.dir, name))
}

// scaleQueries are global-name queries for every service of format (up to
// 1,000 of them), from clients in five GeoIP networks.
func scaleQueries(format string, n int) [][]byte {
	subnets := []string{"27.0.0.0/24", "24.0.0.0/24", "81.0.0.0/24", "36.0.0.0/24", "177.0.0.0/24"}
	var out [][]byte
	for i := 0; i < n && i < 1000; i++ {
		name := fmt.Sprintf(format, i*max(1, n/1000)) + ".myfed.svc.example.com."
		_, sn, _ := net.ParseCIDR(subnets[i%len(subnets)])
		out = append(out, e2eutil.Query(name, *sn))
	}
	return out
}

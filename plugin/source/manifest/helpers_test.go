package manifest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/manifest"
)

// event is one call the fake sink received.
type event struct {
	op      string // "replace", "remove", "state" or "error"
	cluster string
	objs    source.Objects
	state   health.State
	err     error
}

// fakeSink records every call, in order.
type fakeSink struct {
	mu     sync.Mutex
	events []event
}

func (f *fakeSink) add(e event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *fakeSink) Update(c string, l source.Lister) {
	o := l.Objects()
	f.add(event{op: "replace", cluster: c, objs: o})
}
func (f *fakeSink) Remove(c string) { f.add(event{op: "remove", cluster: c}) }
func (f *fakeSink) SetState(c string, st health.State) {
	f.add(event{op: "state", cluster: c, state: st})
}
func (f *fakeSink) Error(c string, err error) { f.add(event{op: "error", cluster: c, err: err}) }
func (f *fakeSink) snapshot() []event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event(nil), f.events...)
}
func (f *fakeSink) count(op, cluster string) int          { return len(f.filter(op, cluster)) }
func (f *fakeSink) last(op, cluster string) (event, bool) { return lastOf(f.filter(op, cluster)) }

// filter returns the events of op for cluster, in order.
func (f *fakeSink) filter(op, cluster string) []event {
	var out []event
	for _, e := range f.snapshot() {
		if e.op == op && e.cluster == cluster {
			out = append(out, e)
		}
	}
	return out
}

func lastOf(es []event) (event, bool) {
	if len(es) == 0 {
		return event{}, false
	}
	return es[len(es)-1], true
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: still waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start runs a Source on dir until the test ends, then checks that Run
// returned nil. A zero opts.Interval means 10 ms here, to keep tests fast.
func start(t *testing.T, dir string, opts manifest.Options) *fakeSink {
	t.Helper()
	if opts.Interval == 0 {
		opts.Interval = 10 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = testLogger{t}
	}
	sink := &fakeSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- manifest.New(dir, opts).Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	})
	return sink
}

// testLogger sends the source's messages to the test log.
type testLogger struct{ t *testing.T }

func (l testLogger) Debugf(f string, a ...any)   { l.t.Logf("DEBUG "+f, a...) }
func (l testLogger) Infof(f string, a ...any)    { l.t.Logf("INFO "+f, a...) }
func (l testLogger) Warningf(f string, a ...any) { l.t.Logf("WARNING "+f, a...) }

// writeFiles writes files under root; keys are slash-separated paths.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func nodeYAML(name, zone string) string {
	region := zone[:strings.LastIndex(zone, "-")]
	return fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %s
  labels: {topology.kubernetes.io/region: %s, topology.kubernetes.io/zone: %s}
status:
  conditions: [{type: Ready, status: "True"}]
`, name, region, zone)
}

func serviceYAML(ns, name, ip string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {namespace: %s, name: %s}
spec:
  type: LoadBalancer
  ports: [{name: http, port: 80}]
status:
  loadBalancer: {ingress: [{ip: %q}]}
`, ns, name, ip)
}

// sliceYAML returns an IPv4 EndpointSlice for service with one endpoint
// per element of ready.
func sliceYAML(ns, service string, ready ...bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  namespace: %s
  name: %s-1
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
endpoints:
`, ns, service, service)
	for i, r := range ready {
		fmt.Fprintf(&b, "  - {addresses: [10.0.0.%d], conditions: {ready: %t}}\n", i+1, r)
	}
	return b.String()
}

// docs joins YAML documents.
func docs(d ...string) string { return strings.Join(d, "---\n") }

// objectCounts summarises Objects for comparisons.
type objectCounts struct{ Nodes, Services, Slices, Ready int }

func countsOf(o source.Objects) objectCounts {
	c := objectCounts{Nodes: len(o.Nodes), Services: len(o.Services), Slices: len(o.Endpoints)}
	for _, e := range o.Endpoints {
		c.Ready += e.Ready
	}
	return c
}

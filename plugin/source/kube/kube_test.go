package kube

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

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
)

func svc(name string, lbls map[string]string, ports ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: lbls, ResourceVersion: "7"}}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: p, Protocol: corev1.ProtocolTCP})
	}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
	return s
}

func TestTransforms(t *testing.T) {
	tf := transforms{selector: labels.SelectorFromSet(labels.Set{"fed": "x"}), namespaces: map[string]bool{"default": true}}
	fed := map[string]string{"fed": "x"}
	tests := []struct {
		name    string
		in      *corev1.Service
		ignored bool
		invalid bool
	}{
		{"federated", svc("a", fed, 80), false, false},
		{"no label", svc("b", nil, 80), true, false},
		{"other federation", svc("c", map[string]string{"fed": "y"}, 80), true, false},
		{"no ports", svc("d", fed), false, true},
		{"other namespace", func() *corev1.Service { s := svc("e", fed, 80); s.Namespace = "kube-system"; return s }(), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tf.service(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			o := out.(*object)
			if o.ignored != tc.ignored || (o.err != nil) != tc.invalid || (o.service != nil) == (tc.ignored || tc.invalid) {
				t.Errorf("got ignored %v err %v service %v", o.ignored, o.err, o.service)
			}
			if o.GetName() != tc.in.Name || o.GetNamespace() != tc.in.Namespace || o.GetResourceVersion() != "7" || len(o.GetLabels()) != 0 {
				t.Errorf("meta %+v, want only name, namespace and resource version", o.meta)
			}
			again, _ := tf.service(o) // idempotent: a transformed object passes through
			if again != o {
				t.Error("transform of a transformed object changed it")
			}
		})
	}
}

// recorder is a source.Sink that keeps the last call per cluster.
type recorder struct {
	mu     sync.Mutex
	objs   map[string]source.Objects
	states map[string]health.State
	errs   []error
}

func newRecorder() *recorder {
	return &recorder{objs: map[string]source.Objects{}, states: map[string]health.State{}}
}

// Update gathers at once: every change is a burst of one.
func (r *recorder) Update(c string, l source.Lister) {
	o := l.Objects()
	r.mu.Lock()
	r.objs[c] = o
	r.mu.Unlock()
}
func (r *recorder) Remove(c string)                   { r.mu.Lock(); delete(r.objs, c); r.mu.Unlock() }
func (r *recorder) SetState(c string, s health.State) { r.mu.Lock(); r.states[c] = s; r.mu.Unlock() }
func (r *recorder) Error(_ string, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *recorder) get(c string) (source.Objects, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.objs[c]
	return o, len(r.errs), ok
}

// TestMemberPublish runs one member on a fake clientset: this checks the
// informer wiring and the counting, not a real API server (test/kube does).
func TestMemberPublish(t *testing.T) {
	ready := true
	client := fake.NewClientset(
		svc("web", map[string]string{"fed": "x"}, 80),
		svc("plain", nil, 80),
		svc("broken", map[string]string{"fed": "x"}),
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyRegion: "asia-east1"}}},
	)
	opts := Options{Kubeconfigs: []string{"unused"}, Selector: labels.SelectorFromSet(labels.Set{"fed": "x"}), ProbeInterval: time.Hour}
	opts.setDefaults()
	rec := newRecorder()
	m := newMember("c1", client, nil, &opts, rec, make(chan struct{}, 1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, func() bool { _, _, ok := rec.get("c1"); return ok && m.synced.Load() })
	o, nerr, _ := rec.get("c1")
	if len(o.Services) != 1 || o.Services[0].Name != "web" || o.Ignored != 1 || o.Invalid != 1 || len(o.Endpoints) != 1 || len(o.Nodes) != 1 {
		t.Errorf("published %+v", o)
	}
	if nerr != 1 {
		t.Errorf("%d errors reported, want 1 (the Service without ports)", nerr)
	}
	if o.Fingerprint == 0 {
		t.Error("published fingerprint 0 (unknown)")
	}
	before := o.Fingerprint

	// An update reaches the sink.
	s := svc("web", map[string]string{"fed": "x"}, 80)
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.9"}}
	if _, err := client.CoreV1().Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		o, _, _ := rec.get("c1")
		return len(o.Services) == 1 && len(o.Services[0].Addresses) == 1 && o.Services[0].Addresses[0].String() == "192.0.2.9"
	})
	if o, _, _ := rec.get("c1"); o.Fingerprint == before {
		t.Error("an update left the fingerprint as it was")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	const kc = `apiVersion: v1
kind: Config
clusters:
- {name: a, cluster: {server: "https://127.0.0.1:1"}}
- {name: b, cluster: {server: "https://127.0.0.1:2"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: ctx-a, context: {cluster: a, user: u}}
- {name: ctx-b, context: {cluster: b, user: u}}
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		contexts map[string]string
		want     []string
	}{
		{"every context", nil, []string{"ctx-a", "ctx-b"}},
		{"one context, renamed", map[string]string{"ctx-b": "prod"}, []string{"prod"}},
		{"one context, own name", map[string]string{"ctx-a": ""}, []string{"ctx-a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{Kubeconfigs: []string{path}, Contexts: tc.contexts})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.load()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("clusters %v, want %v", got, tc.want)
			}
			for _, w := range tc.want {
				if _, ok := got[w]; !ok {
					t.Errorf("no cluster %q in %v", w, got)
				}
			}
		})
	}
	if _, err := New(Options{}); !errors.Is(err, ErrNoClusters) {
		t.Errorf("New with nothing: %v, want ErrNoClusters", err)
	}
	s, _ := New(Options{Kubeconfigs: []string{filepath.Join(dir, "missing")}})
	if _, err := s.load(); !errors.Is(err, ErrKubeconfig) {
		t.Errorf("missing kubeconfig: %v, want ErrKubeconfig", err)
	}
	// Files that name no member cluster are garbage (an emptied file reads
	// as a valid kubeconfig): the running clusters are kept.
	empty := filepath.Join(dir, "empty")
	noContext := filepath.Join(dir, "no-context")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noContext, []byte(strings.Split(kc, "contexts:")[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		files    []string
		contexts map[string]string
	}{
		{"empty file", []string{empty}, nil},
		{"no contexts", []string{noContext}, nil},
		{"none of the listed contexts", []string{path}, map[string]string{"ctx-z": ""}},
		{"two files, no context in either", []string{empty, noContext}, nil},
	} {
		s, _ := New(Options{Kubeconfigs: tc.files, Contexts: tc.contexts})
		if got, err := s.load(); !errors.Is(err, ErrKubeconfig) || !strings.Contains(err.Error(), "no context names a member cluster") {
			t.Errorf("%s: %v clusters, error %v; want ErrKubeconfig: no context names a member cluster", tc.name, len(got), err)
		}
	}
}

// TestLoadNamedTwice: a cluster name defined twice is an error
// (docs/kubernetes-source.md), across files or by renaming two contexts
// to one name.
func TestLoadNamedTwice(t *testing.T) {
	dir := t.TempDir()
	const kc = `apiVersion: v1
kind: Config
clusters:
- {name: a, cluster: {server: "https://127.0.0.1:1"}}
- {name: b, cluster: {server: "https://127.0.0.1:2"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: ctx-a, context: {cluster: a, user: u}}
- {name: ctx-b, context: {cluster: b, user: u}}
`
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	for _, p := range []string{first, second} {
		if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		files     []string
		contexts  map[string]string
		twice     string // the cluster named twice; "" for none
		inCluster string
	}{
		{"one file", []string{first}, nil, "", ""},
		{"the same contexts in two files", []string{first, second}, nil, "ctx-a", ""},
		{"two contexts renamed to one name", []string{first}, map[string]string{"ctx-a": "prod", "ctx-b": "prod"}, "prod", ""},
		{"a context renamed to another's name", []string{first}, map[string]string{"ctx-a": "ctx-b", "ctx-b": ""}, "ctx-b", ""},
		{"two files, one context each", []string{first, second}, map[string]string{"ctx-a": "", "ctx-b": "prod"}, "ctx-a", ""},
		{"in_cluster named as a context", []string{first}, nil, "ctx-b", "ctx-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{Kubeconfigs: tc.files, Contexts: tc.contexts, InCluster: tc.inCluster})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.load()
			switch {
			case tc.twice == "" && err != nil:
				t.Fatalf("load: %v", err)
			case tc.twice != "" && (!errors.Is(err, ErrKubeconfig) || !strings.Contains(err.Error(), `cluster "`+tc.twice+`" named twice`)):
				t.Fatalf("load: %v (clusters %v), want ErrKubeconfig naming %q twice", err, got, tc.twice)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// warnings records a source's warnings.
type warnings struct{ lines []string }

func (*warnings) Debugf(string, ...any) {}
func (*warnings) Infof(string, ...any)  {}
func (w *warnings) Warningf(f string, a ...any) {
	w.lines = append(w.lines, fmt.Sprintf(f, a...))
}

// TestMissingContextsWarned: a context the Corefile names that no file
// holds (here `kubeconfig PATH ctx-a 1s`, an interval where a context
// goes) is logged once, and again only when the list changes.
func TestMissingContextsWarned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := func(contexts ...string) string {
		out := "apiVersion: v1\nkind: Config\nclusters:\n- {name: a, cluster: {server: \"https://127.0.0.1:1\"}}\nusers:\n- {name: u, user: {token: t}}\ncontexts:\n"
		for _, c := range contexts {
			out += "- {name: " + c + ", context: {cluster: a, user: u}}\n"
		}
		return out
	}
	w := &warnings{}
	s, err := New(Options{Kubeconfigs: []string{path}, Contexts: map[string]string{"ctx-a": "", "1s": ""}, Logger: w})
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for _, step := range []struct {
		contexts []string
		warned   int // warnings logged so far
	}{
		{[]string{"ctx-a"}, 1},
		{[]string{"ctx-a"}, 1},       // the same list: not again
		{[]string{"ctx-a", "1s"}, 1}, // none missing
		{[]string{"ctx-a"}, 2},       // missing again
	} {
		if err := os.WriteFile(path, []byte(kc(step.contexts...)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.load(); err != nil {
			t.Fatal(err)
		}
		s.warnMissing(&last)
		if len(w.lines) != step.warned {
			t.Fatalf("contexts %v: warnings %q, want %d", step.contexts, w.lines, step.warned)
		}
	}
	if !strings.Contains(w.lines[0], `in no kubeconfig file`) || !strings.Contains(w.lines[0], ": 1s") {
		t.Errorf("warning %q, want it to name the context 1s", w.lines[0])
	}
}

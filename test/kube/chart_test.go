package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/deploy/helm"
	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestChart applies the chart's manifests (deploy/helm/meridian, rendered
// with the Helm SDK) for every value set of helm.ValueSets to a real API
// server, with server-side dry-run and then for real, each set its own
// release and namespace; then it runs the default set's container command
// line as a real meridian process, its ConfigMap and Secret written where
// the pod spec mounts them (below a temporary folder; the harness has no
// kubelet), against the harness's member clusters, and asks it.
func TestChart(t *testing.T) {
	f := startFederation(t, 2)
	fed := map[string]string{fedLabel: "myfed"}
	for _, m := range members[:2] {
		addNode(t, f.admin[m.name], m)
		addService(t, f.admin[m.name], m, "nginx", fed, 3)
	}
	// The Prometheus Operator's CRDs, from its module, for "monitoring on".
	crds := filepath.Join(moduleDir(t, "github.com/prometheus-operator/prometheus-operator", prometheusOperator), "example", "prometheus-operator-crd")
	installCRDs(t, f, "member-1", filepath.Join(crds, "monitoring.coreos.com_servicemonitors.yaml"), filepath.Join(crds, "monitoring.coreos.com_podmonitors.yaml"),
		filepath.Join(crds, "monitoring.coreos.com_prometheusrules.yaml"))
	dyn, err := dynamic.NewForConfig(f.restConfig(t, "member-1"))
	if err != nil {
		t.Fatal(err)
	}
	e2eutil.Eventually(t, 30*time.Second, "the Prometheus Operator's kinds served", func() bool {
		for _, r := range []string{"servicemonitors", "podmonitors", "prometheusrules"} {
			gvr := schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: r}
			if _, err := dyn.Resource(gvr).List(context.Background(), metav1.ListOptions{}); err != nil {
				return false
			}
		}
		return true
	})
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(f.admin["member-1"].Discovery()))
	names := make([]string, 0, len(helm.ValueSets))
	for n := range helm.ValueSets {
		names = append(names, n)
	}
	sort.Strings(names)
	deployed := map[string][]*unstructured.Unstructured{} // by value set, for the runs below
	for i, name := range names {
		t.Run("apply "+name, func(t *testing.T) {
			release := fmt.Sprintf("m%d", i)
			objs := renderObjects(t, release, release, helm.ValueSets[name])
			if _, err := f.admin["member-1"].CoreV1().Namespaces().Create(context.Background(),
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: release}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, dry := range []bool{true, false} {
				for _, o := range objs {
					m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
					if err != nil {
						t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
					}
					opts := metav1.CreateOptions{FieldValidation: "Strict"}
					if dry {
						opts.DryRun = []string{metav1.DryRunAll}
					}
					var r dynamic.ResourceInterface = dyn.Resource(m.Resource)
					if m.Scope.Name() == "namespace" {
						r = dyn.Resource(m.Resource).Namespace(release)
					}
					if _, err := r.Create(context.Background(), o, opts); err != nil {
						t.Errorf("create %s %s (dry run %v): %v", o.GetKind(), o.GetName(), dry, err)
					}
				}
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetKind())
			}
			if name == "monitoring on" && (!slices.Contains(kinds, "ServiceMonitor") || !slices.Contains(kinds, "PodMonitor") || !slices.Contains(kinds, "PrometheusRule")) {
				t.Errorf("monitoring on renders %v: no ServiceMonitor, PodMonitor and PrometheusRule", kinds)
			}
			deployed[name] = objs
		})
	}
	if deployed["default"] == nil || deployed["dnssec"] == nil {
		t.Fatal("the default and dnssec sets were not applied")
	}

	t.Run("the pod's command answers", func(t *testing.T) {
		s := runChartPod(t, f, deployed["default"], nil)
		// The default values read no GeoIP database: every client is of
		// unknown location and gets the clusters in name order.
		e2eutil.Eventually(t, 20*time.Second, "answers", func() bool {
			r, err := s.Exchange("udp", nginx, dns.TypeA, paris)
			return err == nil && slices.Equal(e2eutil.Addrs(r), []string{members[0].lb})
		})
	})
	t.Run("the dnssec set's pod signs with the Secret's keys", func(t *testing.T) {
		checkChartDNSSEC(t, f, deployed["dnssec"])
	})
}

// runChartPod runs a rendered value set's container command line as a real
// meridian process: its ConfigMap and Secrets written where the pod spec
// mounts them (below a temporary folder; the harness has no kubelet), its
// Corefile on loopback and free ports. It first creates, in the set's
// namespace, the kubeconfig Secret of member-1 and member-2 (as
// meridianctl join would write it) and the Secrets of extra; every Secret
// mounted is read back from the API server.
func runChartPod(t *testing.T, f *federation, objs []*unstructured.Unstructured, extra map[string]map[string][]byte) *e2eutil.Server {
	t.Helper()
	var dep appsv1.Deployment
	var cm corev1.ConfigMap
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			fromUnstructured(t, o, &dep)
		case "ConfigMap":
			fromUnstructured(t, o, &cm)
		}
	}
	spec := dep.Spec.Template.Spec
	ctr := spec.Containers[0]
	if sc := ctr.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}) ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || !*spec.SecurityContext.RunAsNonRoot {
		t.Errorf("the container is not hardened: %+v %+v", ctr.SecurityContext, spec.SecurityContext)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	f.writeKubeconfig(t, kubeconfig, "member-1", "member-2")
	data, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	secrets := f.admin["member-1"].CoreV1().Secrets(dep.Namespace)
	toCreate := map[string]map[string][]byte{"meridian-kubeconfig": {"kubeconfig": data}}
	maps.Copy(toCreate, extra)
	for name, d := range toCreate {
		if _, err := secrets.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: d}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The files, where the pod spec mounts them, below root.
	root := t.TempDir()
	for _, mnt := range ctr.VolumeMounts {
		dir := filepath.Join(root, mnt.MountPath)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, v := range spec.Volumes {
			switch {
			case v.Name != mnt.Name:
			case v.ConfigMap != nil:
				for k, text := range cm.Data {
					e2eutil.WriteFile(t, filepath.Join(dir, k), text)
				}
			case v.Secret != nil:
				writeSecretVolume(t, secrets, v.Secret, dir)
			}
		}
	}
	args := slices.Clone(ctr.Args)
	for i, a := range args {
		if strings.HasPrefix(a, "/etc/") {
			args[i] = filepath.Join(root, a)
		}
	}
	corefilePath := args[slices.Index(args, "-conf")+1]
	rendered, err := os.ReadFile(corefilePath)
	if err != nil {
		t.Fatal(err)
	}
	// Loopback and free ports in place of the pod's :53, :9153, :8181
	// and :8080; paths below root.
	return e2eutil.Start(t, func(p e2eutil.Ports) string {
		c := strings.ReplaceAll(string(rendered), "/etc/meridian/", root+"/etc/meridian/")
		c = strings.Replace(c, "example.com:53 {", fmt.Sprintf("example.com:%d {\n    bind 127.0.0.1", p.DNS), 1)
		c = strings.Replace(c, "prometheus :9153", fmt.Sprintf("prometheus 127.0.0.1:%d", p.Metrics), 1)
		c = strings.Replace(c, "ready :8181", fmt.Sprintf("ready 127.0.0.1:%d", p.Ready), 1)
		c = strings.Replace(c, "health :8080", fmt.Sprintf("health 127.0.0.1:%d", e2eutil.FreePort(t)), 1)
		c = strings.Replace(c, "federation myfederation", "federation myfed", 1)
		return c
	})
}

// writeSecretVolume writes the Secret of a pod's secret volume, read from
// the API server, into dir as the kubelet would: its items at their paths,
// or every key when the volume lists none. A key the volume lists and the
// Secret lacks fails the test, as the kubelet would not start the pod.
func writeSecretVolume(t *testing.T, secrets interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Secret, error)
}, v *corev1.SecretVolumeSource, dir string) {
	t.Helper()
	stored, err := secrets.Get(context.Background(), v.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Items) == 0 {
		for k, b := range stored.Data {
			e2eutil.WriteFile(t, filepath.Join(dir, k), string(b))
		}
		return
	}
	for _, it := range v.Items {
		b, ok := stored.Data[it.Key]
		if !ok {
			t.Fatalf("Secret %s has no key %q", v.SecretName, it.Key)
		}
		e2eutil.WriteFile(t, filepath.Join(dir, it.Path), string(b))
	}
}

// prometheusOperator is the version of the Prometheus Operator whose CRDs
// the chart's monitoring resources are checked against.
const prometheusOperator = "v0.85.0"

// renderObjects renders the chart and decodes every document.
func renderObjects(t *testing.T, release, namespace string, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	ms, err := helm.Render(release, namespace, values)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, m := range ms {
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader([]byte(m.Text))))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", m.Path, err)
			}
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Fatalf("%s: %v\n%s", m.Path, err, doc)
			}
			if len(obj) > 0 {
				out = append(out, &unstructured.Unstructured{Object: obj})
			}
		}
	}
	return out
}

func fromUnstructured(t *testing.T, o *unstructured.Unstructured, into any) {
	t.Helper()
	b, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

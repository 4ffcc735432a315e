package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/meridian-dns/meridian/plugin/source"
)

const (
	testNode  = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
	testSvc   = "apiVersion: v1\nkind: Service\nmetadata: {name: s1, namespace: ns}\nspec: {ports: [{port: 80}]}\n"
	testSlice = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e1, labels: {kubernetes.io/service-name: s1}}\n" +
		"addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}, {addresses: [10.0.0.2], conditions: {ready: false}}]\n"
	testConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
	testIngress   = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n" +
		"spec: {rules: [{host: Shop.Example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}\n" +
		"status: {loadBalancer: {ingress: [{ip: 192.0.2.1}]}}\n"
)

func TestDecodeFile(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		content   string
		nodes     int
		services  int
		slices    int
		ingresses int
		invalid   int
		warnings  int
		malformed string // a substring of the malformed error, "" for none
	}{
		{name: "empty", file: "a.yaml"},
		{name: "only comments", file: "a.yaml", content: "# nothing\n---\n# here\n"},
		{name: "several documents", file: "a.yaml", content: "---\n" + testNode + "---\n" + testSvc + "--- # a comment\n" + testSlice + "---\n",
			nodes: 1, services: 1, slices: 1},
		{name: "other kinds ignored", file: "a.yml", content: testConfigMap + "---\napiVersion: apps/v1\nkind: Deployment\nspec: {replicas: x}\n"},
		{name: "list", file: "a.yaml", content: "apiVersion: v1\nkind: List\nitems:\n- " + indent(testNode) + "- " + indent(testSvc),
			nodes: 1, services: 1},
		{name: "json stream", file: "a.json",
			content: `{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}` + "\n" +
				`{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}}]}`,
			nodes: 2},
		{name: "unknown field is a warning", file: "a.yaml", content: testNode + "spec: {colour: blue}\n", nodes: 1, warnings: 1},
		{name: "duplicate object", file: "a.yaml", content: testNode + "---\n" + testNode, nodes: 1, invalid: 1},
		{name: "node without name", file: "a.yaml", content: "apiVersion: v1\nkind: Node\n", invalid: 1},
		{name: "invalid slice skipped", file: "a.yaml", content: testNode + "---\n" + strings.Replace(testSlice, "10.0.0.2", "fd00::2", 1),
			nodes: 1, invalid: 1},
		{name: "syntax error", file: "a.yaml", content: testNode + "---\nkind: [\n", malformed: "document 2 (line 5): yaml: line 5"},
		{name: "bad separator", file: "a.yaml", content: testNode + "--- kind: Node\n", malformed: `line 4: invalid document separator "--- kind: Node"`},
		{name: "wrong type", file: "a.yaml", content: "apiVersion: v1\nkind: Node\nmetadata: {name: [a]}\n", malformed: "document 1"},
		{name: "case matters", file: "a.yaml", content: "apiVersion: v1\nkind: node\n"},
		{name: "kind not a string", file: "a.yaml", content: "apiVersion: v1\nkind: 3\n", malformed: "not a Kubernetes object"},
		{name: "not an object", file: "a.yaml", content: "- a\n- b\n", malformed: "not a Kubernetes object"},
		{name: "old apiVersion", file: "a.yaml", content: strings.Replace(testSlice, "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1", 1),
			malformed: `EndpointSlice apiVersion "discovery.k8s.io/v1beta1" is not "discovery.k8s.io/v1"`},
		{name: "bad list item", file: "a.yaml", content: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v2, kind: Service}\n",
			malformed: "document 1 (line 1): items[0]: Service apiVersion"},
		{name: "ingress", file: "a.yaml", content: testIngress, ingresses: 1},
		{name: "ingress of an older apiVersion is skipped", file: "a.yaml", ingresses: 0, warnings: 1,
			content: strings.Replace(testIngress, "networking.k8s.io/v1", "extensions/v1beta1", 1)},
		{name: "ingress with a bad host", file: "a.yaml", invalid: 1, content: strings.Replace(testIngress, "Shop.Example.com", "shop..example.com", 1)},
		{name: "duplicate ingress", file: "a.yaml", content: testIngress + "---\n" + testIngress, ingresses: 1, invalid: 1},
		{name: "json syntax", file: "a.json", content: "{\"kind\": \"Node\"}\n\n {", malformed: "document 2 (line 3)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := decodeCluster([]fileData{{path: "/m/c1/" + tc.file, data: []byte(tc.content)}}, nil)
			checkMalformed(t, d, "/m/c1/"+tc.file, tc.malformed)
			if tc.malformed != "" {
				return
			}
			got := [...]int{len(d.objs.Nodes), len(d.objs.Services), len(d.objs.Endpoints), len(d.objs.Ingresses), len(d.invalid), len(d.warnings)}
			want := [...]int{tc.nodes, tc.services, tc.slices, tc.ingresses, tc.invalid, tc.warnings}
			if got != want {
				t.Errorf("nodes, services, slices, ingresses, invalid, warnings = %v, want %v (invalid: %v, warnings: %v)", got, want, d.invalid, d.warnings)
			}
			for _, in := range d.objs.Ingresses {
				if in.Namespace != "shop" || in.Name != "web" || len(in.Rules) != 1 || in.Rules[0].Host != "shop.example.com." || in.Rules[0].Services[0] != "web" {
					t.Errorf("ingress %+v", in)
				}
			}
			for _, err := range d.invalid {
				if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "file /m/c1/"+tc.file+": document ") {
					t.Errorf("invalid error %q does not wrap ErrInvalid or name the file and document", err)
				}
			}
		})
	}
}

func checkMalformed(t *testing.T, d *decoded, path, want string) {
	t.Helper()
	switch {
	case want == "" && len(d.malformed) > 0:
		t.Fatalf("unexpected malformed error: %v", d.malformed)
	case want == "":
	case len(d.malformed) != 1:
		t.Fatalf("%d malformed errors, want 1", len(d.malformed))
	case !errors.Is(d.malformed[0], source.ErrMalformed):
		t.Errorf("error %q does not wrap ErrMalformed", d.malformed[0])
	case !strings.Contains(d.malformed[0].Error(), "file "+path+": ") || !strings.Contains(d.malformed[0].Error(), want):
		t.Errorf("error %q does not name the file and %q", d.malformed[0], want)
	}
}

func TestDecodeDefaults(t *testing.T) {
	d := decodeCluster([]fileData{
		{path: "a.yaml", data: []byte(strings.Replace(testSvc, ", namespace: ns", "", 1) + "---\n" + testSlice)},
		{path: "b.yaml", err: errors.New("permission denied")},
	}, nil)
	if d.objs.Services[0].Namespace != "default" || d.objs.Endpoints[0].Namespace != "default" {
		t.Errorf("namespaces %q and %q, want default", d.objs.Services[0].Namespace, d.objs.Endpoints[0].Namespace)
	}
	if e := d.objs.Endpoints[0]; e.Ready != 1 || e.Total != 2 {
		t.Errorf("slice %+v, want 1 ready of 2", e)
	}
	if len(d.malformed) != 1 || !strings.Contains(d.malformed[0].Error(), "file b.yaml: permission denied") {
		t.Errorf("a read error must be a malformed file, got %v", d.malformed)
	}
}

// indent indents all lines but the first by two spaces, for list items.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// TestDecodeSelector checks that the federation selector picks Ingresses
// as it picks Services, and counts the others as ignored.
func TestDecodeSelector(t *testing.T) {
	sel, err := labels.Parse("federation.meridian.dev/name=f")
	if err != nil {
		t.Fatal(err)
	}
	picked := strings.Replace(testIngress, "namespace: shop}", "namespace: shop, labels: {federation.meridian.dev/name: f}}", 1)
	other := strings.Replace(testIngress, "name: web, namespace: shop}", "name: other, namespace: shop}", 1)
	svc := strings.Replace(testSvc, "namespace: ns}", "namespace: ns, labels: {federation.meridian.dev/name: f}}", 1)
	d := decodeCluster([]fileData{{path: "a.yaml", data: []byte(picked + "---\n" + other + "---\n" + svc + "---\n" + testSvc)}}, sel)
	if len(d.objs.Ingresses) != 1 || d.objs.Ingresses[0].Name != "web" || len(d.objs.Services) != 1 || d.objs.Ignored != 2 {
		t.Errorf("%d ingresses, %d services, %d ignored; want 1, 1, 2", len(d.objs.Ingresses), len(d.objs.Services), d.objs.Ignored)
	}
}

// TestDecodeGatewayAPI checks that a route is joined with its Gateway from
// any file of the cluster, and that the selector picks routes, not
// Gateways.
func TestDecodeGatewayAPI(t *testing.T) {
	gw := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: envoy
  listeners: [{name: http, port: 80, protocol: HTTP, hostname: "*.example.com"}]
status:
  addresses: [{type: IPAddress, value: 192.0.2.7}]
  conditions: [{type: Programmed, status: "True", reason: Programmed, message: "", lastTransitionTime: "2026-01-01T00:00:00Z"}]
`
	route := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: shop, labels: {federation.meridian.dev/name: f}}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [api.example.com, api.example.org]
  rules: [{backendRefs: [{name: api, port: 80}]}]
status:
  parents:
    - parentRef: {name: gw, namespace: infra}
      controllerName: example.com/gateway
      conditions: [{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "2026-01-01T00:00:00Z"}]
`
	unlabelled := strings.Replace(strings.Replace(route, "name: api, namespace: shop, labels: {federation.meridian.dev/name: f}", "name: other, namespace: shop", 1), "api.example", "other.example", 2)
	old := strings.Replace(route, "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1", 1)
	sel, err := labels.Parse("federation.meridian.dev/name=f")
	if err != nil {
		t.Fatal(err)
	}
	d := decodeCluster([]fileData{{path: "a.yaml", data: []byte(route + "---\n" + unlabelled + "---\n" + old)}, {path: "b.yaml", data: []byte(gw)}}, sel)
	checkMalformed(t, d, "", "")
	if len(d.invalid) != 0 || len(d.warnings) != 1 || d.objs.Ignored != 1 {
		t.Errorf("invalid %v, warnings %v, ignored %d; want the v1beta1 route warned about and the unlabelled one ignored", d.invalid, d.warnings, d.objs.Ignored)
	}
	if len(d.objs.Ingresses) != 1 {
		t.Fatalf("%d ingresses, want the route", len(d.objs.Ingresses))
	}
	in := d.objs.Ingresses[0]
	if in.Kind != source.KindHTTPRoute || in.Name != "api" || in.Detached || fmt.Sprint(in.Rules) != "[{api.example.com. [api]}]" || fmt.Sprint(in.Addresses) != "[192.0.2.7]" {
		t.Errorf("route %+v", in)
	}
}

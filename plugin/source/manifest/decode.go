package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigsjson "sigs.k8s.io/json"

	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/kubeobj"
)

// fileData is one manifest file as read from disk.
type fileData struct {
	path string
	data []byte
	err  error // a read error; data is empty
}

// decoded is what the files of one cluster hold.
type decoded struct {
	objs source.Objects
	// malformed are files that could not be decoded; when there is one,
	// the cluster keeps its last good state.
	malformed []error
	// invalid are objects that decoded but failed conversion or were
	// duplicates; they are skipped and the rest applied.
	invalid []error
	// warnings are unknown or duplicate fields, which are ignored as the
	// API server ignores them with fieldValidation=Warn.
	warnings []string
	// seen maps "kind namespace/name" to the file that defined it first.
	seen map[string]string
	// selector picks the federated Services, Ingresses and routes; nil
	// picks all.
	selector labels.Selector
	// routes and gateways are the Gateway API objects, joined into
	// objs.Ingresses once every file is read (kubeobj.JoinRoute).
	routes   []kubeobj.Route
	gateways map[string]*kubeobj.Gateway // by namespace/name
}

// decodeCluster decodes the files of one cluster in order, keeping the
// Services selector picks (nil: all).
func decodeCluster(files []fileData, selector labels.Selector) *decoded {
	d := &decoded{seen: make(map[string]string), selector: selector}
	for _, f := range files {
		if f.err != nil {
			d.malformed = append(d.malformed, fmt.Errorf("file %s: %w: %w", f.path, f.err, source.ErrMalformed))
			continue
		}
		if err := d.file(f.path, f.data); err != nil {
			d.malformed = append(d.malformed, err)
		}
	}
	for i := range d.routes {
		in := kubeobj.JoinRoute(&d.routes[i], func(ns, name string) *kubeobj.Gateway { return d.gateways[ns+"/"+name] })
		d.objs.Ingresses = append(d.objs.Ingresses, &in)
	}
	return d
}

// file decodes every document of one file. It returns an error wrapping
// source.ErrMalformed naming the file and the document when one cannot be
// decoded.
func (d *decoded) file(path string, data []byte) error {
	docs, err := documents(path, data)
	if err != nil {
		return fmt.Errorf("file %s: %w: %w", path, err, source.ErrMalformed)
	}
	for _, doc := range docs {
		where := fmt.Sprintf("file %s: document %d (line %d)", path, doc.n, doc.line)
		if err := d.object(where, doc.json); err != nil {
			return fmt.Errorf("%s: %w: %w", where, err, source.ErrMalformed)
		}
	}
	return nil
}

// typeMeta is the part of every object that says what it is.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// object decodes one JSON document; where names it in messages. It returns
// an error only when the document is malformed.
func (d *decoded) object(where string, raw []byte) error {
	var tm typeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &tm); err != nil {
		return fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if tm.Kind == "" {
		return errors.New("no kind")
	}
	want, used := apiVersions[tm.Kind]
	if !used {
		return nil // a kind Meridian does not read
	}
	if tm.APIVersion != want {
		if lenient[tm.Kind] {
			d.warnings = append(d.warnings, fmt.Sprintf("%s: %s apiVersion %q is not %q: skipped", where, tm.Kind, tm.APIVersion, want))
			return nil
		}
		return fmt.Errorf("%s apiVersion %q is not %q", tm.Kind, tm.APIVersion, want)
	}
	switch tm.Kind {
	case "List":
		return d.list(where, raw)
	case "Node":
		return d.node(where, raw)
	case "Service":
		return d.service(where, raw)
	case "EndpointSlice":
		return d.endpointSlice(where, raw)
	case "Ingress":
		return d.ingress(where, raw)
	case "HTTPRoute":
		var r gatewayv1.HTTPRoute
		return d.route(where, raw, &r, &r.ObjectMeta, func() (kubeobj.Route, error) { return kubeobj.FromHTTPRoute(&r) })
	case "GRPCRoute":
		var r gatewayv1.GRPCRoute
		return d.route(where, raw, &r, &r.ObjectMeta, func() (kubeobj.Route, error) { return kubeobj.FromGRPCRoute(&r) })
	case "Gateway":
		return d.gateway(where, raw)
	}
	return nil
}

// apiVersions maps each kind Meridian reads to the only apiVersion it
// accepts for it.
var apiVersions = map[string]string{
	"List":          "v1",
	"Node":          "v1",
	"Service":       "v1",
	"EndpointSlice": "discovery.k8s.io/v1",
	"Ingress":       "networking.k8s.io/v1",
	"HTTPRoute":     gatewayv1.GroupVersion.String(),
	"GRPCRoute":     gatewayv1.GroupVersion.String(),
	"Gateway":       gatewayv1.GroupVersion.String(),
}

// lenient are the kinds Meridian began reading after folders were written
// for it (Federated Ingress): another apiVersion of one of them, such as
// an old extensions/v1beta1 Ingress, is skipped with a warning, so that a
// folder that was valid stays valid.
var lenient = map[string]bool{"Ingress": true, "HTTPRoute": true, "GRPCRoute": true, "Gateway": true}

// list decodes the items of a kind: List document.
func (d *decoded) list(where string, raw []byte) error {
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &l); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	for i, item := range l.Items {
		if err := d.object(fmt.Sprintf("%s: items[%d]", where, i), item); err != nil {
			return fmt.Errorf("items[%d]: %w", i, err)
		}
	}
	return nil
}

func (d *decoded) node(where string, raw []byte) error {
	var n corev1.Node
	if err := d.strict(where, raw, &n); err != nil {
		return err
	}
	switch {
	case n.Name == "":
		d.invalid = append(d.invalid, fmt.Errorf("%s: node: no name: %w", where, source.ErrInvalid))
	case d.first(where, "node "+n.Name):
		node := kubeobj.FromNode(&n)
		d.objs.Nodes = append(d.objs.Nodes, &node)
	}
	return nil
}

func (d *decoded) service(where string, raw []byte) error {
	var s corev1.Service
	if err := d.strict(where, raw, &s); err != nil {
		return err
	}
	if s.Namespace == "" {
		s.Namespace = corev1.NamespaceDefault
	}
	if d.selector != nil && !d.selector.Matches(labels.Set(s.Labels)) {
		d.objs.Ignored++
		return nil
	}
	out, err := kubeobj.FromService(&s)
	switch {
	case err != nil:
		d.invalid = append(d.invalid, fmt.Errorf("%s: %w", where, err))
	case d.first(where, "service "+s.Namespace+"/"+s.Name):
		d.objs.Services = append(d.objs.Services, &out)
	}
	return nil
}

func (d *decoded) endpointSlice(where string, raw []byte) error {
	var e discoveryv1.EndpointSlice
	if err := d.strict(where, raw, &e); err != nil {
		return err
	}
	if e.Namespace == "" {
		e.Namespace = corev1.NamespaceDefault
	}
	out, err := kubeobj.FromEndpointSlice(&e)
	switch {
	case err != nil:
		d.invalid = append(d.invalid, fmt.Errorf("%s: %w", where, err))
	case d.first(where, "endpointslice "+e.Namespace+"/"+e.Name):
		d.objs.Endpoints = append(d.objs.Endpoints, &out)
	}
	return nil
}

func (d *decoded) ingress(where string, raw []byte) error {
	var in networkingv1.Ingress
	if err := d.strict(where, raw, &in); err != nil {
		return err
	}
	if in.Namespace == "" {
		in.Namespace = corev1.NamespaceDefault
	}
	if d.selector != nil && !d.selector.Matches(labels.Set(in.Labels)) {
		d.objs.Ignored++
		return nil
	}
	out, err := kubeobj.FromIngress(&in)
	switch {
	case err != nil:
		d.invalid = append(d.invalid, fmt.Errorf("%s: %w", where, err))
	case d.first(where, "ingress "+in.Namespace+"/"+in.Name):
		d.objs.Ingresses = append(d.objs.Ingresses, &out)
	}
	return nil
}

// route decodes an HTTPRoute or a GRPCRoute into obj, whose metadata is
// m, and keeps what convert makes of it when the selector picks it.
func (d *decoded) route(where string, raw []byte, obj any, m *metav1.ObjectMeta, convert func() (kubeobj.Route, error)) error {
	if err := d.strict(where, raw, obj); err != nil {
		return err
	}
	if m.Namespace == "" {
		m.Namespace = corev1.NamespaceDefault
	}
	if d.selector != nil && !d.selector.Matches(labels.Set(m.Labels)) {
		d.objs.Ignored++
		return nil
	}
	r, err := convert()
	switch {
	case err != nil:
		d.invalid = append(d.invalid, fmt.Errorf("%s: %w", where, err))
	case d.first(where, strings.ToLower(r.Kind)+" "+m.Namespace+"/"+m.Name):
		d.routes = append(d.routes, r)
	}
	return nil
}

// gateway decodes a Gateway. Gateways are read whatever their labels: the
// routes attached to them are what the federation selector picks.
func (d *decoded) gateway(where string, raw []byte) error {
	var g gatewayv1.Gateway
	if err := d.strict(where, raw, &g); err != nil {
		return err
	}
	if g.Namespace == "" {
		g.Namespace = corev1.NamespaceDefault
	}
	out, err := kubeobj.FromGateway(&g)
	switch {
	case err != nil:
		d.invalid = append(d.invalid, fmt.Errorf("%s: %w", where, err))
	case d.first(where, "gateway "+g.Namespace+"/"+g.Name):
		if d.gateways == nil {
			d.gateways = make(map[string]*kubeobj.Gateway)
		}
		d.gateways[g.Namespace+"/"+g.Name] = &out
	}
	return nil
}

// strict decodes raw into obj the way the API server does: field names are
// case-sensitive, a wrong type is an error, and unknown or duplicate fields
// are only warnings.
func (d *decoded) strict(where string, raw []byte, obj any) error {
	warnings, err := sigsjson.UnmarshalStrict(raw, obj)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		d.warnings = append(d.warnings, fmt.Sprintf("%s: %v (ignored)", where, w))
	}
	return nil
}

// first records that key was defined at where and reports whether it is
// the first definition; a later one is reported as invalid and skipped.
func (d *decoded) first(where, key string) bool {
	if prev, ok := d.seen[key]; ok {
		d.invalid = append(d.invalid, fmt.Errorf("%s: %s is already defined in %s: %w", where, key, prev, source.ErrInvalid))
		return false
	}
	d.seen[key] = where
	return true
}

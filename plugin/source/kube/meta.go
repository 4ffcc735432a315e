package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meridian-dns/meridian/plugin/source/kubeobj"
)

// meta is the identity an informer's cache needs of an object: its name,
// namespace and resource version. It implements metav1.Object with every
// other field empty, as CoreDNS's kubernetes plugin does
// (plugin/kubernetes/object.Empty): an embedded metav1.ObjectMeta costs 232
// bytes per object, and a large federation holds hundreds of thousands.
type meta struct {
	name, namespace, resourceVersion string
}

var _ metav1.Object = (*meta)(nil)

// metaOf keeps m's identity, with the namespace interned.
func metaOf(m *metav1.ObjectMeta) meta {
	return meta{name: m.Name, namespace: kubeobj.Intern(m.Namespace), resourceVersion: m.ResourceVersion}
}

// The fields meta keeps.

func (m *meta) GetNamespace() string              { return m.namespace }
func (m *meta) SetNamespace(ns string)            { m.namespace = ns }
func (m *meta) GetName() string                   { return m.name }
func (m *meta) SetName(name string)               { m.name = name }
func (m *meta) GetResourceVersion() string        { return m.resourceVersion }
func (m *meta) SetResourceVersion(version string) { m.resourceVersion = version }

// The fields meta does not keep: always empty, setting them does nothing.

func (*meta) GetGenerateName() string                       { return "" }
func (*meta) SetGenerateName(string)                        {}
func (*meta) GetUID() types.UID                             { return "" }
func (*meta) SetUID(types.UID)                              {}
func (*meta) GetGeneration() int64                          { return 0 }
func (*meta) SetGeneration(int64)                           {}
func (*meta) GetSelfLink() string                           { return "" }
func (*meta) SetSelfLink(string)                            {}
func (*meta) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (*meta) SetCreationTimestamp(metav1.Time)              {}
func (*meta) GetDeletionTimestamp() *metav1.Time            { return nil }
func (*meta) SetDeletionTimestamp(*metav1.Time)             {}
func (*meta) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (*meta) SetDeletionGracePeriodSeconds(*int64)          {}
func (*meta) GetLabels() map[string]string                  { return nil }
func (*meta) SetLabels(map[string]string)                   {}
func (*meta) GetAnnotations() map[string]string             { return nil }
func (*meta) SetAnnotations(map[string]string)              {}
func (*meta) GetFinalizers() []string                       { return nil }
func (*meta) SetFinalizers([]string)                        {}
func (*meta) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (*meta) SetOwnerReferences([]metav1.OwnerReference)    {}
func (*meta) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (*meta) SetManagedFields([]metav1.ManagedFieldsEntry)  {}

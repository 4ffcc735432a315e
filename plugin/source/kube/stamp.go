package kube

import (
	"fmt"
	"hash/fnv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meridian-dns/meridian/internal/splitmix"
)

// changeTime is the newest change time an object's metadata records: its
// creation and the time of every managedFields entry (the API server sets
// an entry's time whenever its manager changes a field). With skipStatus,
// the entries of the status subresource are left out: a Node's kubelet
// writes its status every few minutes (heartbeats, images, volumes) though
// nothing an answer reads changed.
func changeTime(m *metav1.ObjectMeta, skipStatus bool) time.Time {
	newest := m.CreationTimestamp.Time
	for _, f := range m.ManagedFields {
		if f.Time == nil || (skipStatus && f.Subresource == "status") {
			continue
		}
		if f.Time.After(newest) {
			newest = f.Time.Time
		}
	}
	return newest
}

// nodeChangeTime is a Node's change time: its metadata's without the status
// subresource, and the last transition of its Ready condition, the one part
// of its status an answer reads.
func nodeChangeTime(n *corev1.Node) time.Time {
	newest := changeTime(&n.ObjectMeta, true)
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.LastTransitionTime.After(newest) {
			newest = c.LastTransitionTime.Time
		}
	}
	return newest
}

// stamp sets an object's change time and fingerprint: a hash of its kind,
// name, change time in seconds (the SOA serial's unit) and what it was
// converted to. A resync or a relist brings the same objects and so the same
// fingerprints; any change of what answers read, or of the time, moves it.
func (o *object) stamp(kind string, changed time.Time, converted any) *object {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%v", kind, o.namespace, o.name, changed.Unix(), converted)
	o.fp = splitmix.Mix(h.Sum64())
	if !changed.IsZero() {
		o.changed = changed.UnixNano()
	}
	return o
}

// stampObjects sets the change time and fingerprint of the objects a
// cluster publishes: the newest change time of the objects kept, and the
// sum of their fingerprints (never 0, which means unknown).
func stampObjects(kept []*object) (time.Time, uint64) {
	var newest int64
	var sum uint64
	for _, o := range kept {
		newest = max(newest, o.changed)
		sum += o.fp
	}
	return unixNano(newest), max(sum, 1)
}

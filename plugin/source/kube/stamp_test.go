package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) *metav1.Time { return &metav1.Time{Time: t0.Add(time.Duration(sec) * time.Second)} }

// fields returns managedFields entries: manager "m<i>" at the given seconds,
// the odd ones through the status subresource.
func fields(secs ...int) []metav1.ManagedFieldsEntry {
	var out []metav1.ManagedFieldsEntry
	for i, s := range secs {
		e := metav1.ManagedFieldsEntry{Manager: "m", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(s)}
		if i%2 == 1 {
			e.Subresource = "status"
		}
		out = append(out, e)
	}
	return out
}

func stampedService(created int, managed []metav1.ManagedFieldsEntry, ip string) *corev1.Service {
	s := svc("web", nil, 80)
	s.CreationTimestamp, s.ManagedFields = *at(created), managed
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	return s
}

func stampedNode(managed []metav1.ManagedFieldsEntry, readyAt int, ready corev1.ConditionStatus, heartbeat int) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: *at(0), ManagedFields: managed,
			Labels: map[string]string{corev1.LabelTopologyRegion: "asia-east1"}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: ready, LastTransitionTime: *at(readyAt), LastHeartbeatTime: *at(heartbeat),
		}}},
	}
}

func TestStamp(t *testing.T) {
	tf := transforms{selector: labels.Everything()}
	conv := func(in any) *object {
		var out any
		switch x := in.(type) {
		case *corev1.Service:
			out, _ = tf.service(x)
		case *corev1.Node:
			out, _ = tf.node(x)
		}
		return out.(*object)
	}
	baseSvc := stampedService(1, fields(2, 3), "192.0.2.1")
	baseNode := stampedNode(fields(2, 9), 4, corev1.ConditionTrue, 9)
	for _, tc := range []struct {
		name        string
		before, now any
		wantChanged time.Time
		wantMoved   bool
	}{
		{"service: newest of creation and every managed field, status included", baseSvc, stampedService(1, fields(2, 3), "192.0.2.1"), at(3).Time, false},
		{"service: created only", stampedService(5, nil, "192.0.2.1"), stampedService(5, nil, "192.0.2.1"), at(5).Time, false},
		{"service: a status update", baseSvc, stampedService(1, fields(2, 7), "192.0.2.2"), at(7).Time, true},
		{"service: a change the answer does not read, later", baseSvc, stampedService(1, fields(6, 3), "192.0.2.1"), at(6).Time, true},
		{"service: a change within the same second", baseSvc, stampedService(1, fields(2, 3), "192.0.2.2"), at(3).Time, true},
		{"node: status entries left out, Ready's transition counts", baseNode, stampedNode(fields(2, 9), 4, corev1.ConditionTrue, 9), at(4).Time, false},
		{"node: a heartbeat moves nothing", baseNode, stampedNode(fields(2, 60), 4, corev1.ConditionTrue, 60), at(4).Time, false},
		{"node: Ready flips", baseNode, stampedNode(fields(2, 60), 50, corev1.ConditionFalse, 60), at(50).Time, true},
		{"node: a label changed", baseNode, stampedNode(fields(30, 9), 4, corev1.ConditionTrue, 9), at(30).Time, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, now := conv(tc.before), conv(tc.now)
			if !now.changedAt().Equal(tc.wantChanged) {
				t.Errorf("changed %v, want %v", now.changedAt(), tc.wantChanged)
			}
			if moved := now.fp != before.fp; moved != tc.wantMoved {
				t.Errorf("fingerprint moved %v, want %v", moved, tc.wantMoved)
			}
			if now.fp == 0 {
				t.Error("fingerprint 0")
			}
		})
	}
}

func TestStampObjects(t *testing.T) {
	a := (&object{meta: meta{name: "a"}}).stamp("Service", at(3).Time, "x")
	b := (&object{meta: meta{name: "b"}}).stamp("Service", at(8).Time, "x")
	c := (&object{meta: meta{name: "c"}}).stamp("Node", at(1).Time, "y")
	for _, tc := range []struct {
		name        string
		kept        []*object
		wantChanged time.Time
	}{
		{"none", nil, time.Time{}},
		{"one", []*object{a}, at(3).Time},
		{"newest of all", []*object{a, b, c}, at(8).Time},
		{"any order", []*object{c, b, a}, at(8).Time},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed, fp := stampObjects(tc.kept)
			if !changed.Equal(tc.wantChanged) || fp == 0 {
				t.Errorf("changed %v fingerprint %d, want %v and not 0", changed, fp, tc.wantChanged)
			}
		})
	}
	_, abc := stampObjects([]*object{a, b, c})
	_, cba := stampObjects([]*object{c, b, a})
	_, ab := stampObjects([]*object{a, b})
	if abc != cba || abc == ab {
		t.Errorf("fingerprints: a,b,c %d; c,b,a %d; a,b %d: want the first two equal, the third different", abc, cba, ab)
	}
}

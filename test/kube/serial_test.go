package kube

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// soaSerial returns the SOA serial a replica answers.
func soaSerial(t *testing.T, s *e2eutil.Server) uint32 {
	t.Helper()
	r := s.Ask(t, "udp", "example.com.", dns.TypeSOA, "")
	if len(r.Answer) != 1 {
		t.Fatalf("SOA: %d answers", len(r.Answer))
	}
	return r.Answer[0].(*dns.SOA).Serial
}

// serials waits until every replica answers the same serial for which ok
// holds, and returns it.
func serials(t *testing.T, what string, ok func(uint32) bool, replicas ...*e2eutil.Server) uint32 {
	t.Helper()
	var got []uint32
	e2eutil.Eventually(t, 20*time.Second, what, func() bool {
		got = got[:0]
		for _, s := range replicas {
			got = append(got, soaSerial(t, s))
		}
		for _, n := range got {
			if n != got[0] || !ok(n) {
				return false
			}
		}
		return true
	})
	return got[0]
}

// TestKubeSerial runs two replicas against two real API servers: they
// answer the same SOA serial, the newest change time of the objects; an
// update grows both to its time; a replica started afresh agrees; a
// deletion grows both by one; an API server going away (a cluster state,
// health alone) moves neither.
func TestKubeSerial(t *testing.T) {
	f := startFederation(t, 2)
	start := time.Now().Truncate(time.Second)
	for _, m := range members[:2] {
		addNode(t, f.admin[m.name], m)
		addService(t, f.admin[m.name], m, "nginx", map[string]string{fedLabel: "myfed"}, 3)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	f.writeKubeconfig(t, kubeconfig, "member-1", "member-2")
	a := startMeridian(t, kubeconfig, "stale_after 2s", "down_after 4s")
	b := startMeridian(t, kubeconfig, "stale_after 2s", "down_after 4s")
	first := serials(t, "the objects' time", func(n uint32) bool {
		return int64(n) >= start.Unix() && int64(n) <= time.Now().Unix()
	}, a, b)

	// The next change must fall in a later second, or a restarted replica
	// would read the same time as the first serial (docs/dns-behaviour.md).
	e2eutil.Eventually(t, 5*time.Second, "a new second", func() bool { return time.Now().Unix() > int64(first) })
	updated := time.Now().Truncate(time.Second)
	setReady(t, f.admin["member-1"], "nginx", 1)
	second := serials(t, "the update's time", func(n uint32) bool {
		return int64(n) >= updated.Unix() && int64(n) <= time.Now().Unix()
	}, a, b)
	if c := startMeridian(t, kubeconfig); soaSerial(t, c) != second {
		t.Errorf("a replica started afresh answers %d, want %d", soaSerial(t, c), second)
	}

	err := f.admin["member-2"].DiscoveryV1().EndpointSlices("default").Delete(context.Background(), "nginx-1", metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	third := serials(t, "one more after a deletion", func(n uint32) bool { return n == second+1 }, a, b)

	f.kill(t, "member-2")
	for _, s := range []*e2eutil.Server{a, b} {
		e2eutil.Eventually(t, 30*time.Second, "member-2 down", func() bool {
			return strings.Contains(s.Out.String(), fmt.Sprintf("cluster %q is down", "member-2"))
		})
	}
	t.Logf("serials: first %d, after an update %d, after a deletion %d", first, second, third)
	if na, nb := soaSerial(t, a), soaSerial(t, b); na != third || nb != third {
		t.Errorf("after a cluster went down: %d and %d, want %d", na, nb, third)
	}
}

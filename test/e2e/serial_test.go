package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// serialSince is how old the serial federation's files are made: an hour,
// so the first serial is a known second and a later edit is seconds after
// it.
const serialSince = time.Hour

// writeSerialFederation writes two clusters, near (asia-east1) and far
// (europe-west1), each running the service "probed" behind 127.0.0.1 with
// an HTTP probe of its target, and dates every file and folder
// serialSince ago. It returns the folder and that time.
func writeSerialFederation(t *testing.T, near, far *target) (string, time.Time) {
	t.Helper()
	dir := t.TempDir()
	writeProbed(t, dir, near, far, `{meridian.dev/probe: http, meridian.dev/probe-path: /healthz, meridian.dev/probe-interval: 1s, meridian.dev/fall: "2"}`)
	past := time.Now().Add(-serialSince).Truncate(time.Second)
	for _, p := range []string{"near/nodes.yaml", "near/services.yaml", "far/nodes.yaml", "far/services.yaml", "near", "far"} {
		if err := os.Chtimes(filepath.Join(dir, p), past, past); err != nil {
			t.Fatal(err)
		}
	}
	return dir, past
}

// startSerial starts a replica on the federation in dir, with the NS set of
// the two-replica zone.
func startSerial(t *testing.T, dir string) *e2eutil.Server {
	t.Helper()
	return startProbed(t, dir, "        ns ns1.example.com 127.0.0.1\n        ns ns2.example.com 127.0.0.2")
}

// soaSerial returns the serial a replica answers for the zone's SOA, or 0
// with an error.
func soaSerial(s *e2eutil.Server) (uint32, error) {
	r, err := s.Exchange("udp", "example.com.", dns.TypeSOA, "")
	if err != nil {
		return 0, err
	}
	if len(r.Answer) != 1 {
		return 0, fmt.Errorf("SOA reply %s with %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	soa, ok := r.Answer[0].(*dns.SOA)
	if !ok {
		return 0, fmt.Errorf("SOA answer is %T", r.Answer[0])
	}
	return soa.Serial, nil
}

func mustSerial(t *testing.T, s *e2eutil.Server) uint32 {
	t.Helper()
	n, err := soaSerial(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// probedTTL is the TTL of the Taipei client's A answer for probed: 30 while
// every shard is healthy, the degraded 3 once one is down.
func probedTTL(s *e2eutil.Server) uint32 {
	r, err := s.Exchange("udp", probed, dns.TypeA, taipei)
	if err != nil || len(r.Answer) == 0 {
		return 0
	}
	return r.Answer[0].Header().Ttl
}

// TestSerialReplicas runs two replicas of the real binary on one manifest
// folder: they answer the same SOA serial, the change time of the files;
// a probe failing (health alone) moves neither; an edit grows both to the
// edit's time, and they agree again; a replica stopped and started again
// with no change answers the serial it had.
func TestSerialReplicas(t *testing.T) {
	near, far := newTarget(t), newTarget(t)
	dir, past := writeSerialFederation(t, near, far)
	a := startSerial(t, dir)
	var edited uint32
	t.Run("running", func(t *testing.T) {
		b := startSerial(t, dir)
		sa, sb := mustSerial(t, a), mustSerial(t, b)
		if sa != sb || sa != uint32(past.Unix()) {
			t.Fatalf("serials %d and %d, want both %d (the files' time)", sa, sb, past.Unix())
		}

		near.set("500")
		for _, s := range []*e2eutil.Server{a, b} {
			e2eutil.Eventually(t, 30*time.Second, "near probed down (degraded TTL)", func() bool { return probedTTL(s) == 3 })
		}
		if na, nb := mustSerial(t, a), mustSerial(t, b); na != sa || nb != sa {
			t.Errorf("after a probe verdict alone: serials %d and %d, want %d", na, nb, sa)
		}
		near.set("ok")

		before := time.Now().Truncate(time.Second)
		e2eutil.WriteFile(t, filepath.Join(dir, "far", "extra.yaml"), `apiVersion: v1
kind: Service
metadata: {name: extra, namespace: default, labels: {federation.meridian.dev/name: fed}}
spec: {type: LoadBalancer, ports: [{name: http, port: 80, protocol: TCP}]}
status: {loadBalancer: {ingress: [{ip: 192.0.2.80}]}}
`)
		for _, s := range []*e2eutil.Server{a, b} {
			e2eutil.Eventually(t, 30*time.Second, "the new service answered", func() bool {
				r, err := s.Exchange("udp", "extra.default.fed.svc.example.com.", dns.TypeA, "")
				return err == nil && len(r.Answer) > 0
			})
		}
		edited = mustSerial(t, a)
		if nb := mustSerial(t, b); edited != nb {
			t.Errorf("after an edit: serials %d and %d differ", edited, nb)
		}
		if edited < uint32(before.Unix()) || edited > uint32(time.Now().Unix()) {
			t.Errorf("after an edit: serial %d, want the edit's time, between %d and now", edited, before.Unix())
		}
	})
	if edited == 0 {
		t.FailNow()
	}
	// The second replica, stopped at the end of "running", starts again.
	b := startSerial(t, dir)
	if sb, sa := mustSerial(t, b), mustSerial(t, a); sb != edited || sa != edited {
		t.Errorf("after a restart with no change: %d (restarted) and %d, want both %d", sb, sa, edited)
	}
}

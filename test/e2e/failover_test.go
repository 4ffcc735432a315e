package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestResolverFailover runs the demo's resolver with two authoritative
// replicas as its upstreams and no answer cache (`upstream_cache 0`), so
// that every query of a service with no local shard goes upstream, under
// load from four clients, and kills one replica (SIGKILL) a second in
// (issue 16, item 7): more than 99.9% of the queries are still answered,
// each with the records the replicas gave before, and none wrongly.
func TestResolverFailover(t *testing.T) {
	a, b := startDemo(t), startDemo(t)
	r := startDemoWith(t, "        upstream 127.0.0.1:1053\n",
		fmt.Sprintf("        upstream %s %s\n        upstream_cache 0\n", a.DNS, b.DNS))
	const name = "canary.default.myfederation.svc.cluster.local."
	ask := func(c *dns.Client) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		reply, _, err := c.Exchange(m, r.resolver)
		return reply, err
	}
	first, err := ask(&dns.Client{Timeout: 2 * time.Second})
	if err != nil || first.Rcode != dns.RcodeSuccess || len(e2eutil.Addrs(first)) == 0 {
		t.Fatalf("before the kill: %v %v, want an answer from upstream", first, err)
	}
	want := e2eutil.Addrs(first)
	slices.Sort(want)

	stop := make(chan struct{})
	var mu sync.Mutex
	var sent, answered int
	var wrong []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := &dns.Client{Timeout: 2 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				reply, err := ask(c)
				got := e2eutil.Addrs(reply)
				slices.Sort(got)
				mu.Lock()
				sent++
				switch {
				case err != nil || reply.Rcode != dns.RcodeSuccess:
				case slices.Equal(got, want):
					answered++
				default:
					wrong = append(wrong, strings.Join(strings.Fields(reply.String()), " "))
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	requests := func(s *server) float64 {
		return metricValue(s.Scrape(t), `coredns_dns_requests_total{family="1",proto="udp",server="dns://`+s.DNS+`",type="A",view="",zone="example.com."}`)
	}
	atA, atB := requests(a), requests(b)
	t.Logf("before the kill: %v queries at the replica killed, %v at the other", atA, atB)
	if atA == 0 {
		t.Fatal("the replica to be killed took no query: the kill would show nothing")
	}
	if err := syscall.Kill(a.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()
	if after := requests(b); after <= atB {
		t.Errorf("the other replica took no query after the kill (%v, then %v)", atB, after)
	}
	share := float64(answered) / float64(sent)
	t.Logf("%d queries through the resolver, %d answered (%.3f%%), %d wrong; replica %s killed after 1 s of 5", sent, answered, 100*share, len(wrong), a.DNS)
	if len(wrong) > 0 {
		t.Errorf("%d wrong answers; the first: %s", len(wrong), wrong[0])
	}
	if share <= 0.999 || sent < 1000 {
		t.Errorf("answered %d of %d (%.3f%%), want more than 99.9%% of at least 1,000", answered, sent, 100*share)
	}
}

package pipeline

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/sourcetest"
)

func objs(services ...string) source.Objects {
	var o source.Objects
	for _, s := range services {
		o.Services = append(o.Services, &source.Service{Namespace: "ns", Name: s})
	}
	return o
}

func TestPipelineRun(t *testing.T) {
	builds := make(chan *model.Snapshot, 100)
	s := New(Config{Views: []View{viewFunc(func(sn *model.Snapshot) { builds <- sn })}})
	if s.Snapshot() != nil || s.Settled() {
		t.Fatal("snapshot before any build")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	// A burst of changes from several goroutines settles into snapshots
	// that end with all of them.
	var feeders sync.WaitGroup
	for _, c := range []string{"a", "b", "c"} {
		feeders.Add(1)
		go func() { defer feeders.Done(); s.Sink().Update(c, source.Fixed(objs("web", "api"))) }()
	}
	feeders.Wait()
	waitFor(t, func() bool { return s.Settled() && len(s.Snapshot().Clusters) == 3 })
	if n := len(s.Snapshot().Services); n != 2 {
		t.Errorf("services %d, want 2", n)
	}

	s.Sink().SetState("b", health.Down)
	waitFor(t, func() bool { sn := s.Snapshot(); return sn.Cluster("b") != nil && sn.Cluster("b").State == health.Down })

	prev := s.Snapshot().Serial
	s.Sink().Remove("a")
	waitFor(t, func() bool { return s.Settled() && s.Snapshot().Cluster("a") == nil })
	if s.Snapshot().Serial <= prev {
		t.Errorf("serial %d did not grow past %d", s.Snapshot().Serial, prev)
	}
	if len(builds) == 0 {
		t.Error("the view never got a snapshot")
	}
}

func TestPipelineSettled(t *testing.T) {
	s := New(Config{})
	s.Sink().Update("a", source.Fixed(objs("web")))
	if s.Settled() {
		t.Fatal("settled before a build")
	}
	s.Rebuild()
	if !s.Settled() {
		t.Fatal("not settled after a build")
	}
	s.Sink().Update("a", source.Fixed(objs("web", "api")))
	if s.Settled() {
		t.Fatal("settled with a change pending")
	}
}

// TestPipelineBehind: Behind is how long the oldest change has waited for
// a snapshot that holds it, 0 once one does; a change during a build
// counts from when it came, and the history records a cluster's states.
func TestPipelineBehind(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	hist := health.NewHistory(0)
	var p *Pipeline
	arrived := false
	p = New(Config{Clock: clk, History: hist, Views: []View{viewFunc(func(*model.Snapshot) {
		if !arrived { // a change that comes while the first build publishes
			arrived = true
			clk.Advance(time.Second)
			p.Sink().SetState("a", health.Stale)
		}
	})}})
	if d := p.Behind(); d != 0 {
		t.Fatalf("Behind with no change: %v", d)
	}
	p.Sink().Update("a", source.Fixed(objs("web")))
	clk.Advance(3 * time.Second)
	if d := p.Behind(); d != 3*time.Second {
		t.Errorf("Behind a change of 3s ago: %v", d)
	}
	p.Rebuild()
	clk.Advance(2 * time.Second)
	if d := p.Behind(); d != 2*time.Second {
		t.Errorf("Behind the change made during the build, 2s ago: %v", d)
	}
	p.Rebuild()
	if d := p.Behind(); d != 0 {
		t.Errorf("Behind after the last build: %v", d)
	}
	ts, _ := hist.Recent()
	if len(ts) != 1 || ts[0].Signal != "cluster" || ts[0].What != "a" || ts[0].From != "up" || ts[0].To != "stale" {
		t.Errorf("history %+v, want a's up -> stale", ts)
	}
}

// viewFunc is a View of a function.
type viewFunc func(*model.Snapshot)

func (f viewFunc) Publish(s *model.Snapshot) { f(s) }

func TestPipelineError(t *testing.T) {
	var got []string
	s := New(Config{OnError: func(c string, err error) { got = append(got, c+": "+err.Error()) }})
	s.Sink().Error("a", errors.New("bad file"))
	if len(got) != 1 || got[0] != "a: bad file" {
		t.Errorf("OnError got %v", got)
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

// TestPipelineVerdictWakesLoop checks steps 4 and 5 of the loop on the
// passive tracker: a shard whose endpoints stop being ready stays usable
// (pending) in the first build, which hands the observation to the
// tracker; when the fall is due, the tracker wakes the loop alone, and
// the next snapshot has the shard down.
func TestPipelineVerdictWakesLoop(t *testing.T) {
	def := policy.Default()
	def.Probe.Fall = 2
	p := New(Config{Build: model.Options{Defaults: def}, Passive: health.PassiveConfig{Interval: 20 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	withReady := func(ready int) source.Objects {
		o := objs("web")
		o.Services[0].Addresses = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
		o.Endpoints = []*source.EndpointSlice{{Namespace: "ns", Name: "web-1", Service: "web", AddressType: "IPv4", Ready: ready, Total: 1}}
		return o
	}
	shard := func() *model.Shard {
		if sn := p.Snapshot(); sn != nil && sn.Services[model.Key{Namespace: "ns", Name: "web"}] != nil {
			return sn.Services[model.Key{Namespace: "ns", Name: "web"}].Shards[0]
		}
		return nil
	}
	p.Sink().Update("a", source.Fixed(withReady(1)))
	waitFor(t, func() bool { sh := shard(); return sh != nil && sh.Usable })
	p.Sink().Update("a", source.Fixed(withReady(0)))
	waitFor(t, func() bool { return p.Settled() && shard().Ready == 0 })
	if sh := shard(); !sh.Usable || !sh.Degraded {
		t.Fatalf("first build after the flip: usable %v degraded %v, want true true (fall 2 pending)", sh.Usable, sh.Degraded)
	}
	waitFor(t, func() bool { return !shard().Usable })
}

// removing is a Lister whose listing races with the cluster's removal:
// the source removes the cluster while the loop lists it.
type removing struct {
	sink    source.Sink
	cluster string
}

func (r removing) Objects() source.Objects {
	r.sink.Remove(r.cluster)
	return objs("web")
}

// TestPipelineRemovedWhileListing checks that a cluster removed while the
// loop lists its objects does not come back in the snapshot.
func TestPipelineRemovedWhileListing(t *testing.T) {
	p := New(Config{})
	p.Sink().Update("a", source.Fixed(objs("web")))
	p.Sink().Update("b", removing{p.Sink(), "b"})
	snap := p.Rebuild()
	if snap.Cluster("b") != nil || snap.Cluster("a") == nil {
		t.Errorf("clusters %v, want a alone: b was removed while listed", snap.Clusters)
	}
	if snap = p.Rebuild(); snap.Cluster("b") != nil {
		t.Errorf("b came back in the next build")
	}
}

// BenchmarkRebuild100k is the loop's work after one EndpointSlice of one
// cluster changed, at 10 clusters of 10,000 services: gather (the changed
// cluster's lists are new, as the Kubernetes source makes them), build
// from the snapshot before, publish, and the passive tracker's Record.
func BenchmarkRebuild100k(b *testing.B) {
	p := New(Config{})
	lists := make([]source.Objects, 10)
	for c := range lists {
		lists[c] = sourcetest.Cluster(c, 10_000)
		p.Sink().Update("cluster-"+strconv.Itoa(c), source.Fixed(lists[c]))
	}
	for range 11 { // the passive tracker's handles come 1,000 services a build
		p.Rebuild()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		o := lists[3] // new lists, one new slice in them
		o.Services = slices.Clone(o.Services)
		o.Endpoints = slices.Clone(o.Endpoints)
		e := *o.Endpoints[i%10_000]
		e.Ready = 5 - e.Ready // 3 and 2 in turn: always a change
		o.Endpoints[i%10_000] = &e
		p.Sink().Update("cluster-3", source.Fixed(o))
		b.StartTimer()
		p.Rebuild()
	}
}

// TestPartitionSense: a cluster that goes down while others are up is
// down; once no cluster of three is up, Meridian judges itself cut off:
// the snapshot says Partitioned, clusters that go down then are built
// stale (their last state served), one that was down before stays down;
// when one is up again, the partition is over and the reported states
// hold. One cluster alone is never a partition. The history records the
// partition's start and end.
func TestPartitionSense(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	hist := health.NewHistory(0)
	p := New(Config{Clock: clk, History: hist})
	sink := p.Sink()
	for _, c := range []string{"a", "b", "c"} {
		sink.Update(c, source.Fixed(objs("web")))
		sink.SetState(c, health.Up)
	}
	step := func(c string, st health.State) *model.Snapshot {
		t.Helper()
		clk.Advance(time.Second)
		sink.SetState(c, st)
		return p.Rebuild()
	}
	states := func(s *model.Snapshot) string {
		out := ""
		for _, c := range s.Clusters {
			out += c.Name + "=" + c.State.String() + " "
		}
		return out + "partitioned=" + strconv.FormatBool(s.Partitioned)
	}
	for _, tc := range []struct {
		cluster string
		st      health.State
		want    string
	}{
		{"a", health.Stale, "a=stale b=up c=up partitioned=false"},
		{"a", health.Down, "a=down b=up c=up partitioned=false"},
		{"b", health.Stale, "a=down b=stale c=up partitioned=false"},
		{"c", health.Stale, "a=down b=stale c=stale partitioned=true"},
		{"b", health.Down, "a=down b=stale c=stale partitioned=true"},
		{"c", health.Down, "a=down b=stale c=stale partitioned=true"},
		{"a", health.Up, "a=up b=down c=down partitioned=false"},
	} {
		if got := states(step(tc.cluster, tc.st)); got != tc.want {
			t.Fatalf("%s %s: %s, want %s", tc.cluster, tc.st, got, tc.want)
		}
	}
	var part []string
	ts, _ := hist.Recent()
	for _, tr := range ts {
		if tr.Signal == "partition" {
			part = append(part, tr.From+"->"+tr.To)
		}
	}
	if !slices.Equal(part, []string{"partitioned->connected", "connected->partitioned"}) && !slices.Equal(part, []string{"connected->partitioned", "partitioned->connected"}) {
		t.Errorf("partition history %v, want its start and end", part)
	}

	one := New(Config{Clock: clk})
	one.Sink().Update("a", source.Fixed(objs("web")))
	one.Sink().SetState("a", health.Stale)
	clk.Advance(time.Second)
	one.Sink().SetState("a", health.Down)
	if s := one.Rebuild(); s.Partitioned || s.Cluster("a").State != health.Down {
		t.Errorf("one cluster lost: %s, want a=down, not partitioned", states(s))
	}
}

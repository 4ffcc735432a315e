package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/source"
)

func objs(services ...string) source.Objects {
	var o source.Objects
	for _, s := range services {
		o.Services = append(o.Services, source.Service{Namespace: "ns", Name: s})
	}
	return o
}

func TestStoreRun(t *testing.T) {
	builds := make(chan *model.Snapshot, 100)
	s := New(Config{OnBuild: func(sn *model.Snapshot) { builds <- sn }})
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
		go func() { defer feeders.Done(); s.Replace(c, objs("web", "api")) }()
	}
	feeders.Wait()
	waitFor(t, func() bool { return s.Settled() && len(s.Snapshot().Clusters) == 3 })
	if n := len(s.Snapshot().Services); n != 2 {
		t.Errorf("services %d, want 2", n)
	}

	s.SetState("b", health.Down)
	waitFor(t, func() bool { sn := s.Snapshot(); return sn.Cluster("b") != nil && sn.Cluster("b").State == health.Down })

	prev := s.Snapshot().Serial
	s.Remove("a")
	waitFor(t, func() bool { return s.Settled() && s.Snapshot().Cluster("a") == nil })
	if s.Snapshot().Serial <= prev {
		t.Errorf("serial %d did not grow past %d", s.Snapshot().Serial, prev)
	}
	if len(builds) == 0 {
		t.Error("OnBuild never called")
	}
}

func TestStoreSettled(t *testing.T) {
	s := New(Config{})
	s.Replace("a", objs("web"))
	if s.Settled() {
		t.Fatal("settled before a build")
	}
	s.Rebuild()
	if !s.Settled() {
		t.Fatal("not settled after a build")
	}
	s.Replace("a", objs("web", "api"))
	if s.Settled() {
		t.Fatal("settled with a change pending")
	}
}

func TestStoreError(t *testing.T) {
	var got []string
	s := New(Config{OnError: func(c string, err error) { got = append(got, c+": "+err.Error()) }})
	s.Error("a", errors.New("bad file"))
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

package health

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/internal/clock"
)

func BenchmarkHysteresisRecord(b *testing.B) {
	var h Hysteresis
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(i%7 != 0, 2, 3)
	}
}

// BenchmarkPassiveObserveKnown is the common case of a rebuild: a shard
// seen before whose signal did not change. It must not allocate.
func BenchmarkPassiveObserveKnown(b *testing.B) {
	p := NewPassive(PassiveConfig{})
	k := Key{Cluster: "cluster-1", Namespace: "default", Name: "service-123"}
	p.Observe(k, true, 2, 3)
	b.ReportAllocs()
	for b.Loop() {
		p.Observe(k, true, 2, 3)
	}
}

// BenchmarkPassiveRebuild100k is one rebuild of 100,000 known shards:
// Observe each, then Sweep.
func BenchmarkPassiveRebuild100k(b *testing.B) {
	p := NewPassive(PassiveConfig{})
	keys := make([]Key, 100_000)
	for i := range keys {
		keys[i] = Key{Cluster: "cluster-" + strconv.Itoa(i%10), Namespace: "default", Name: "service-" + strconv.Itoa(i/10)}
		p.Observe(keys[i], true, 2, 3)
	}
	p.Sweep()
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range keys {
			p.Observe(k, true, 2, 3)
		}
		p.Sweep()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/shard")
}

// benchTargets returns n TCP targets spread over addrs.
func benchTargets(n int, interval time.Duration, addrs []netip.AddrPort) []Target {
	spec := DefaultSpec()
	spec.Check, spec.Interval = TCP, interval
	ts := make([]Target, n)
	for i := range ts {
		k := Key{Cluster: "cluster-" + strconv.Itoa(i%10), Namespace: "default", Name: "service-" + strconv.Itoa(i/10)}
		ts[i] = Target{TargetKey: TargetKey{Key: k, Addr: addrs[i%len(addrs)]}, Spec: spec}
	}
	return ts
}

// BenchmarkProberSetUnchanged10k is a snapshot rebuild that hands the
// Prober the same 10,000 targets again.
func BenchmarkProberSetUnchanged10k(b *testing.B) {
	p := NewProber(ProberConfig{Clock: clock.NewFake(epoch)})
	ts := benchTargets(10_000, 10*time.Second, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:80")})
	if err := p.Set(ts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Set(ts)
	}
}

func BenchmarkProberStatus(b *testing.B) {
	p := NewProber(ProberConfig{Clock: clock.NewFake(epoch)})
	ts := benchTargets(10_000, 10*time.Second, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:80")})
	if err := p.Set(ts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Status(ts[i%len(ts)].TargetKey)
	}
}

// BenchmarkProber10k measures the probe engine under load: 10,000 TCP
// targets at a 10 s interval against 16 listeners on 127.0.0.1 that accept
// and close, for 30 s (three cycles). It runs only when -bench names it:
//
//	go test -run '^$' -bench Prober10k -benchtime 1x ./health/
func BenchmarkProber10k(b *testing.B) {
	if f := flag.Lookup("test.bench"); f == nil || !strings.Contains(f.Value.String(), "Prober10k") {
		b.Skip("runs for 30 s; select it with -bench Prober10k")
	}
	const (
		targets  = 10_000
		interval = 10 * time.Second
		window   = 30 * time.Second
	)
	addrs := acceptClosers(b, 16)
	for b.Loop() {
		m := runProber10k(b, benchTargets(targets, interval, addrs), addrs, window)
		b.ReportMetric(m.cpu, "cpu-s/s")
		b.ReportMetric(m.probes, "probes/s")
		b.ReportMetric(float64(m.failures), "failures")
		b.ReportMetric(m.heapMiB, "heap-MiB")
		b.ReportMetric(m.perTarget, "B/target")
		b.ReportMetric(float64(m.goroutines), "goroutines")
		if m.timeWait >= 0 {
			b.ReportMetric(float64(m.timeWait), "time-wait")
		}
	}
}

// engineFigures are what BenchmarkProber10k reports.
type engineFigures struct {
	cpu, probes, heapMiB, perTarget float64
	failures, goroutines, timeWait  int
}

// runProber10k probes ts (on the listeners at addrs) for window and
// measures the process meanwhile.
func runProber10k(b *testing.B, ts []Target, addrs []netip.AddrPort, window time.Duration) engineFigures {
	var ok, failed atomic.Int64
	before := heapAlloc()
	p := NewProber(ProberConfig{OnResult: func(r Result) {
		if r.OK {
			ok.Add(1)
		} else {
			failed.Add(1)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx) })
	ru0, t0 := rusage(b), time.Now()
	if err := p.Set(ts); err != nil {
		b.Fatal(err)
	}
	var f engineFigures
	for time.Since(t0) < window {
		time.Sleep(time.Second)
		f.goroutines = max(f.goroutines, runtime.NumGoroutine())
	}
	wall := time.Since(t0)
	ru1 := rusage(b)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.heapMiB = float64(ms.HeapInuse) / (1 << 20)
	f.perTarget = float64(heapAlloc()-before) / float64(len(ts))
	f.timeWait = countTimeWait(addrs)
	cancel()
	wg.Wait()
	f.cpu = (ru1 - ru0).Seconds() / wall.Seconds()
	f.probes = float64(ok.Load()+failed.Load()) / wall.Seconds()
	f.failures = int(failed.Load())
	runtime.KeepAlive(p)
	return f
}

// acceptClosers starts n listeners on 127.0.0.1 that accept connections
// and close them at once, until b ends.
func acceptClosers(b *testing.B, n int) []netip.AddrPort {
	addrs := make([]netip.AddrPort, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		addrs[i] = netip.MustParseAddrPort(ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return addrs
}

// heapAlloc returns the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// rusage returns the user and system CPU time of the process so far.
func rusage(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countTimeWait returns how many IPv4 TCP sockets to or from addrs' ports
// are in TIME_WAIT, or -1 when /proc/net/tcp cannot be read.
func countTimeWait(addrs []netip.AddrPort) int {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return -1
	}
	defer f.Close()
	ports := map[string]bool{}
	for _, a := range addrs {
		ports[fmt.Sprintf("%04X", a.Port())] = true
	}
	n := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		// sl local_address rem_address st ...; addresses are hex IP:port.
		fields := strings.Fields(s.Text())
		if len(fields) < 4 || fields[3] != "06" {
			continue
		}
		_, local, _ := strings.Cut(fields[1], ":")
		_, remote, _ := strings.Cut(fields[2], ":")
		if ports[local] || ports[remote] {
			n++
		}
	}
	return n
}

// BenchmarkPassiveJudgeRecord100k is one build's passive work on 100,000
// known shards through the snapshot loop's path: Judge each, then Record
// them all.
func BenchmarkPassiveJudgeRecord100k(b *testing.B) {
	p := NewPassive(PassiveConfig{})
	keys := make([]Key, 100_000)
	obs := make([]Observation, len(keys))
	for i := range keys {
		keys[i] = Key{Cluster: "cluster-" + strconv.Itoa(i%10), Namespace: "default", Name: "service-" + strconv.Itoa(i/10)}
		obs[i] = p.Judge(keys[i], true, 2, 3)
	}
	p.Record(obs)
	b.ReportAllocs()
	for b.Loop() {
		for i, k := range keys {
			obs[i] = p.Judge(k, true, 2, 3)
		}
		p.Record(obs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/shard")
}

package e2eutil

import (
	"fmt"
	"math/bits"
	"time"
)

// LatencyWindow counts the replies to the queries sent in one window of a
// CheckedLoad and their latencies, in buckets about 3% wide.
type LatencyWindow struct {
	Count, Good int64
	Max         time.Duration
	hist        [latencyBuckets]uint32
}

// latencyBuckets: 64 of 1 µs, then 32 per power of two up to 2^45 µs.
const latencyBuckets = 64 + 40*32

// bucket is the bucket of a latency of us microseconds.
func bucket(us uint64) int {
	if us < 64 {
		return int(us)
	}
	shift := bits.Len64(us) - 6 // keeps the top 6 bits: 32..63
	return min(latencyBuckets-1, 64+(shift-1)*32+int(us>>shift)-32)
}

// bucketFloor is the least latency of bucket i.
func bucketFloor(i int) time.Duration {
	if i < 64 {
		return time.Duration(i) * time.Microsecond
	}
	shift := (i-64)/32 + 1
	return time.Duration(uint64((i-64)%32+32)<<shift) * time.Microsecond
}

func (w *LatencyWindow) add(d time.Duration, good bool) {
	w.Count++
	if good {
		w.Good++
	}
	w.Max = max(w.Max, d)
	w.hist[bucket(uint64(max(0, d.Microseconds())))]++
}

// Merge adds o's replies to w.
func (w *LatencyWindow) Merge(o *LatencyWindow) {
	w.Count += o.Count
	w.Good += o.Good
	w.Max = max(w.Max, o.Max)
	for i, n := range o.hist {
		w.hist[i] += n
	}
}

// Quantile is the latency under which the fraction q of the window's
// replies came (the floor of its bucket), 0 for an empty window.
func (w *LatencyWindow) Quantile(q float64) time.Duration {
	want := int64(q * float64(w.Count))
	var seen int64
	for i, n := range w.hist {
		seen += int64(n)
		if seen > want {
			return bucketFloor(i)
		}
	}
	return w.Max
}

// LoadReport is what a CheckedLoad run saw.
type LoadReport struct {
	Sent, Answered int64
	Lost           int64 // queries never answered
	Wrong          int64 // replies whose answer was not allowed, or that did not read or answer another question
	Unknown        int64 // replies to no query in flight
	SendErrors     int64
	Wrongs         []string // the first wrong replies, described
	Window         time.Duration
	Windows        []LatencyWindow // by sending time
	All            LatencyWindow
}

// String is the report's totals, one line.
func (r LoadReport) String() string {
	return fmt.Sprintf("%d sent, %d answered, %d lost, %d wrong, %d unknown replies, %d send errors; p50 %v p99 %v max %v",
		r.Sent, r.Answered, r.Lost, r.Wrong, r.Unknown, r.SendErrors,
		r.All.Quantile(0.5), r.All.Quantile(0.99), r.All.Max)
}

// finish stops sending, waits up to drain for the replies in flight,
// stops reading and gathers the report.
func (l *CheckedLoad) finish(drain time.Duration) LoadReport {
	l.stop.Store(true)
	deadline := time.Now().Add(drain)
	for l.flight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	l.quit.Store(true)
	l.wg.Wait()
	r := LoadReport{Window: l.window, Wrong: l.wrong.Load(), Unknown: l.unknown.Load(), SendErrors: l.sendErrs.Load()}
	l.mu.Lock()
	r.Wrongs = append(r.Wrongs, l.wrongs...)
	l.mu.Unlock()
	for _, s := range l.socks {
		s.mu.Lock()
		r.Sent += s.sent
		r.Lost += s.lost
		for _, f := range s.pending {
			if f.sent != 0 {
				r.Lost++
			}
		}
		s.mu.Unlock()
		for i, w := range s.stats {
			for len(r.Windows) <= i {
				r.Windows = append(r.Windows, LatencyWindow{})
			}
			r.Windows[i].Merge(w)
			r.All.Merge(w)
		}
	}
	r.Answered = r.All.Count
	return r
}

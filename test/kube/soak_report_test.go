package kube

import (
	"bufio"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// scrapeMetric returns the value of series on the metrics page at addr.
func scrapeMetric(addr, series string) (string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", sc.Err()
}

// report logs the soak's figures and fails the test on a wrong answer, a
// query lost beyond the kernel's drops, an event without effect, or
// growth of RSS or goroutines.
func (ev *soakEvents) report(rep e2eutil.LoadReport, rate, maxQPS, share float64, serverDrops, clientDrops int64) {
	t := ev.t
	ev.mu.Lock()
	defer ev.mu.Unlock()
	t.Logf("soak: %v at %.0f queries/s (%.0f%% of %.0f), %d sockets", ev.d, rate, 100*share, maxQPS, soakSockets)
	t.Logf("load: %v", rep)
	drops := serverDrops + clientDrops
	t.Logf("kernel UDP drops (full receive buffers): %d queries at the server's sockets, %d replies at the client's", serverDrops, clientDrops)
	for i, w := range rep.Windows {
		t.Logf("  %4d-%4ds: %8d answers, p50 %8v p99 %8v max %8v", i*int(rep.Window.Seconds()), (i+1)*int(rep.Window.Seconds()),
			w.Count, w.Quantile(0.5), w.Quantile(0.99), w.Max)
	}
	if len(ev.acks) > 0 {
		acks := slices.Clone(ev.acks)
		slices.Sort(acks)
		t.Logf("flip updates acknowledged by the API server in p50 %v, max %v", acks[len(acks)/2].Round(time.Millisecond), acks[len(acks)-1].Round(time.Millisecond))
	}
	for _, l := range ev.log {
		t.Logf("  event %s", l)
	}
	for _, e := range ev.errs {
		t.Errorf("soak: %s", e)
	}

	if rep.Wrong > 0 {
		t.Errorf("%d wrong replies; the first: %s", rep.Wrong, strings.Join(rep.Wrongs, "\n  "))
	}
	if rep.Lost > drops || rep.Unknown > 0 {
		t.Errorf("%d queries lost (the kernel dropped %d), %d replies to no query in flight", rep.Lost, drops, rep.Unknown)
	}
	if rep.Sent < int64(rate*ev.d.Seconds()*0.9) {
		t.Errorf("%d queries sent, under 90%% of %.0f a second for %v: the load did not keep its rate", rep.Sent, rate, ev.d)
	}
	for name, e := range ev.exp {
		ev.reportChanges(name, e.Changes())
	}
	ev.reportFlat(rep)
}

// reportChanges logs what each event's queries got while its effect could
// be showing, and fails if the event's new answer was never seen.
func (ev *soakEvents) reportChanges(name string, changes []e2eutil.Change) {
	t := ev.t
	var lags []time.Duration
	var flipFrom, flipTo int64
	seen := map[string]bool{} // the answers seen in settled flips
	for i, c := range changes {
		if c.Wrong > 0 {
			t.Errorf("%s, %s: %d wrong, e.g. %s", name, c.Note, c.Wrong, c.Example())
		}
		settled := strings.HasSuffix(c.Note, ", settled")
		if strings.HasPrefix(c.Note, "flip ") {
			if settled {
				for k := range c.Counts {
					seen[k] = true
				}
				continue
			}
			from, to := c.Allowed[0], c.Allowed[1]
			flipFrom += c.Counts[from]
			flipTo += c.Counts[to]
			if last, ok := c.LastAt[from]; ok {
				lags = append(lags, last.Sub(c.At))
			} else {
				lags = append(lags, 0)
			}
			continue
		}
		if len(c.Allowed) == 2 { // an event's transition: from, to
			lag := func(a string) string {
				if last, ok := c.LastAt[a]; ok {
					return last.Sub(c.At).Round(time.Millisecond).String()
				}
				return "never"
			}
			t.Logf("%s, %s: %v; the last query answered %s was sent %s after, %s %s after", name, c.Note, c.Counts,
				c.Allowed[0], lag(c.Allowed[0]), c.Allowed[1], lag(c.Allowed[1]))
			if i+1 < len(changes) && changes[i+1].Counts[c.Allowed[1]] == 0 && c.Counts[c.Allowed[1]] == 0 {
				t.Errorf("%s, %s: the new answer %s was never given", name, c.Note, c.Allowed[1])
			}
		}
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		t.Logf("%s: %d flips; while each settled: %d answers of the state before, %d of the state after; the state before last "+
			"answered to a query sent p50 %v, p99 %v, max %v after the flip began", name, len(lags), flipFrom, flipTo,
			lags[len(lags)/2].Round(time.Millisecond), lags[len(lags)*99/100].Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
		if len(seen) != 2 {
			t.Errorf("%s: settled flips answered %v, want both states", name, seen)
		}
	}
}

// reportFlat compares RSS, goroutines and p99 between the second and the
// last flat window (a minute, or a sixth of a shorter soak).
func (ev *soakEvents) reportFlat(rep e2eutil.LoadReport) {
	t := ev.t
	fw := min(time.Minute, ev.d/6)
	second, last := 1*fw, ev.d-fw
	rss2, g2, f2, n2 := inWindow(ev.samples, second, second+fw)
	rssN, gN, fN, nN := inWindow(ev.samples, last, ev.d)
	if n2 == 0 || nN == 0 {
		t.Errorf("no samples in a flat window (%d, %d)", n2, nN)
		return
	}
	growth := func(a, b float64) float64 { return 100 * (b - a) / a }
	p99 := func(from, to time.Duration) time.Duration {
		var w e2eutil.LatencyWindow
		for i := int(from / rep.Window); i < int(to/rep.Window) && i < len(rep.Windows); i++ {
			w.Merge(&rep.Windows[i])
		}
		return w.Quantile(0.99)
	}
	t.Logf("flat, %v-%v against %v-%v (%d and %d samples): RSS mean %.1f -> %.1f MiB (%+.1f%%), goroutines lowest %.0f -> %.0f (%+.1f%%), median %.0f -> %.0f, p99 %v -> %v",
		second, second+fw, last, ev.d, n2, nN, rss2/(1<<20), rssN/(1<<20), growth(rss2, rssN), f2, fN, growth(f2, fN), g2, gN,
		p99(second, second+fw), p99(last, ev.d))
	for i, s := range ev.samples {
		if i%10 == 0 {
			t.Logf("  sample %6.1fs: RSS %.1f MiB, %d goroutines", s.at.Seconds(), float64(s.rss)/(1<<20), s.goroutines)
		}
	}
	if e2eutil.RaceBuilt(e2eutil.Binary(t)) {
		t.Logf("RSS not checked: the race build's grows with the load (+8%% to +18%% in a minute here), the race runtime's memory or a leak; the 10-minute soak of the plain build checks it")
	} else if limit := rssLimit(ev.d); growth(rss2, rssN) >= limit {
		t.Errorf("RSS grew %.1f%% (limit %.0f%%)", growth(rss2, rssN), limit)
	}
	if growth(f2, fN) >= 5 {
		t.Errorf("goroutines grew %.1f%%, the lowest count of each window (limit 5%%)", growth(f2, fN))
	}
	if os.Getenv("MERIDIAN_SOAK") != "" {
		if a, b := p99(second, second+fw), p99(last, ev.d); b > 3*a+5*time.Millisecond {
			t.Errorf("p99 %v in the last window, over 3 x %v + 5 ms", b, a)
		}
	}
}

// rssLimit is the most RSS may grow, in percent, between the flat windows:
// 5 for a soak of 5 minutes or more; 25 for a shorter one, whose second
// window is still in the warm-up (the 10-minute soak's RSS grew 8% in its
// first 5 minutes). The race build's RSS is not checked.
func rssLimit(d time.Duration) float64 {
	if d >= 5*time.Minute {
		return 5
	}
	return 25
}

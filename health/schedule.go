package health

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// jitterFraction bounds the jitter of the probes after a target's first:
// each follows the previous one by Interval ± Interval/jitterFraction.
const jitterFraction = 20

// Run probes the targets of the set, each when it is due, with at most
// Concurrency probes in flight, until ctx is done; it returns once the
// workers have stopped. A probe cut short by ctx is not a result, and the
// target is due again at once when Run is called again. Run must not run
// twice at once; a second call logs a warning and returns.
func (p *Prober) Run(ctx context.Context) {
	if !p.running.CompareAndSwap(false, true) {
		p.log.Warningf("health: Prober.Run is running already")
		return
	}
	defer p.running.Store(false)
	jobs := make(chan *target)
	var wg sync.WaitGroup
	for range p.concurrency {
		wg.Go(func() { p.work(ctx, jobs) })
	}
	p.dispatch(ctx, jobs)
	close(jobs)
	wg.Wait()
	p.mu.Lock()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
}

// dispatch hands each target to a worker when it is due, until ctx is
// done. A send blocks while every worker is busy.
func (p *Prober) dispatch(ctx context.Context, jobs chan<- *target) {
	for {
		t := p.due()
		if t == nil {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case jobs <- t:
		case <-ctx.Done():
			p.requeue(t)
			return
		}
	}
}

// due takes the soonest target off the queue if it is due. Otherwise it
// sets the timer to wake the scheduler when it is, and returns nil.
func (p *Prober) due() *target {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	t := p.queue[0]
	if wait := t.next - now; wait > 0 {
		if p.timer == nil {
			p.timer = p.clock.AfterFunc(wait, p.poke)
		} else {
			p.timer.Reset(wait)
		}
		return nil
	}
	p.queue.remove(t)
	return t
}

// requeue puts back a target that was taken off the queue but not probed,
// due at once.
func (p *Prober) requeue(t *target) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !t.removed {
		t.next = now
		p.queue.push(t)
	}
}

// work probes the targets it receives until jobs is closed.
func (p *Prober) work(ctx context.Context, jobs <-chan *target) {
	for t := range jobs {
		p.mu.Lock()
		removed := t.removed
		p.mu.Unlock()
		if removed {
			continue
		}
		start := p.now()
		err := p.check(ctx, t)
		o, ok := p.finish(ctx, t, start, err)
		if !ok {
			continue
		}
		p.account(t.Spec.Check, o)
		if p.onResult != nil {
			p.onResult(o.Result)
		}
	}
}

// outcome is a Result and what its log line needs.
type outcome struct {
	Result
	run   int  // results in a row with the same outcome, this one included
	first bool // the target's first result
}

// finish records the outcome of t's probe that started at start and
// schedules the next. It reports false, dropping the outcome, when t left
// the set meanwhile or ctx cut the probe short.
func (p *Prober) finish(ctx context.Context, t *target, start time.Duration, err error) (outcome, bool) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.removed {
		return outcome{}, false
	}
	if ctx.Err() != nil {
		t.next = now
		p.queue.push(t)
		return outcome{}, false
	}
	o := outcome{first: !t.h.Known()}
	o.Result = Result{Target: t.TargetKey, OK: err == nil, Err: err, Duration: now - start}
	o.Changed = t.h.Record(o.OK, t.Spec.Rise, t.Spec.Fall)
	o.Up, o.run = t.h.Up(), t.h.Run()
	t.last, t.lastAt = o.Result, now
	if o.Changed {
		t.since = now
	}
	t.next = max(start+p.jitter(t.Spec.Interval), now)
	p.queue.push(t)
	if t.index == 0 {
		p.poke()
	}
	return o, true
}

// jitter returns interval ± interval/jitterFraction, drawn uniformly.
// p.mu is held.
func (p *Prober) jitter(interval time.Duration) time.Duration {
	j := int64(interval / jitterFraction)
	if j <= 0 {
		return interval
	}
	return interval + time.Duration(p.rand.Int64N(2*j+1)-j)
}

// account counts the outcome of a check in the metrics and logs it if it
// changed the target's state.
func (p *Prober) account(c Check, o outcome) {
	res := resultSuccess
	switch {
	case o.OK:
	case errors.Is(o.Err, ErrTimeout):
		res = resultTimeout
	default:
		res = resultFailure
	}
	p.m.probes[c][res].Inc()
	p.m.duration[c].Observe(o.Duration.Seconds())
	if !o.Changed {
		return
	}
	p.m.transitions.count(o.Up)
	tr := Transition{At: p.clock.Now(), Signal: "probe", What: o.Target.String(), From: "up", To: "down"}
	switch {
	case o.Up:
		tr.From, tr.To, tr.Detail = "down", "up", "after "+count(o.run, "success", "successes")
	case o.first:
		tr.From, tr.Detail = "pending", fmt.Sprintf("(its first probe failed: %v)", o.Err)
	default:
		tr.Detail = fmt.Sprintf("after %s (last: %v)", count(o.run, "failure", "failures"), o.Err)
	}
	p.log.Infof("probe %s: %s -> %s %s", o.Target, tr.From, tr.To, tr.Detail)
	p.hist.Add(tr)
}

// count returns "1 failure", "3 failures" and the like.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// queue is a min-heap of targets by next probe time.
type queue []*target

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].next < q[j].next }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

// Push and Pop are for container/heap; use push and remove.
func (q *queue) Push(x any) {
	t := x.(*target)
	t.index = len(*q)
	*q = append(*q, t)
}

func (q *queue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	t.index = -1
	return t
}

// push queues t by t.next.
func (q *queue) push(t *target) { heap.Push(q, t) }

// remove takes t off the queue if it is queued.
func (q *queue) remove(t *target) {
	if t.index >= 0 {
		heap.Remove(q, t.index)
	}
}

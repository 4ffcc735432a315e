package upstream

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/promtest"
)

const answerA = "www.example.org. 60 IN A 192.0.2.1"

// reqKey is the requests_total series of server and result.
func reqKey(server, result string) string {
	return "meridian_upstream_requests_total{result=" + result + "}{server=" + server + "}"
}

func TestFailoverToSecond(t *testing.T) {
	tests := []struct {
		name    string
		first   func(t testing.TB) (addr string, calls *atomic.Int32)
		result  string        // requests_total result of the first server
		atLeast time.Duration // the first query waits this long at least
		under   time.Duration // and less than this
	}{
		{
			name: "closed port: ICMP refused at once",
			first: func(t testing.TB) (string, *atomic.Int32) {
				return closedAddrs(t, 1)[0], &atomic.Int32{}
			},
			result: resultError, atLeast: 0, under: 800 * time.Millisecond,
		},
		{
			name:   "silent server: timeout",
			first:  silentAddr,
			result: resultTimeout, atLeast: time.Second, under: 2 * time.Second,
		},
	}
	// An attempt's Timeout of 1s tells a refusal from a timeout with room
	// for a loaded 2-core machine under -race.
	const timeout = time.Second
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, firstCalls := tt.first(t)
			second := startServer(t, reply(dns.RcodeSuccess, answerA))
			reg := prometheus.NewPedanticRegistry()
			log := &testLogger{}
			u := newUpstream(t, Config{Registerer: reg, Logger: log, Timeout: timeout}, first, second.addr)

			begin := time.Now()
			r := mustExchange(t, u, query("www.example.org.", dns.TypeA))
			took := time.Since(begin)
			if took < tt.atLeast || took >= tt.under {
				t.Errorf("first query took %v, want [%v, %v)", took, tt.atLeast, tt.under)
			}
			if got := answerText(r); got != mustRR(answerA).String()+"\n" {
				t.Errorf("answer %q", got)
			}

			// Later queries go straight to the second server.
			before := firstCalls.Load()
			begin = time.Now()
			for range 3 {
				mustExchange(t, u, query("www.example.org.", dns.TypeA))
			}
			if took := time.Since(begin); took >= timeout {
				t.Errorf("3 later queries took %v: the silent server was tried again", took)
			}
			if firstCalls.Load() != before || second.calls() != 4 {
				t.Errorf("later calls: first %d (was %d), second %d; want second 4",
					firstCalls.Load(), before, second.calls())
			}
			promtest.Check(t, reg, map[string]float64{
				reqKey(first, tt.result):                                               1,
				reqKey(second.addr, resultSuccess):                                     4,
				"meridian_upstream_duration_seconds{server=" + second.addr + "}_count": 4,
			})
			if lines := log.all(); len(lines) != 1 || !strings.HasPrefix(lines[0], "W upstream: "+first+" failed") {
				t.Errorf("log %q, want one warning that %s failed", lines, first)
			}
		})
	}
}

// switchable answers like h while up is true, and says nothing otherwise.
func switchable(up *atomic.Bool, h dns.HandlerFunc) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		if up.Load() {
			h(w, r)
		}
	}
}

func TestFailback(t *testing.T) {
	var up atomic.Bool
	first := startServer(t, switchable(&up, reply(dns.RcodeSuccess, "www.example.org. 60 IN A 192.0.2.1")))
	second := startServer(t, reply(dns.RcodeSuccess, "www.example.org. 60 IN A 192.0.2.2"))
	clk := clock.NewFake(epoch)
	log := &testLogger{}
	u := newUpstream(t, Config{Clock: clk, Logger: log, Failback: 30 * time.Second}, first.addr, second.addr)
	q := query("www.example.org.", dns.TypeA)

	steps := []struct {
		name          string
		up            bool
		advance       time.Duration
		first, second int // calls to each during the step
		want          string
	}{
		{"first down: failover", false, 0, 1, 1, "192.0.2.2"},
		{"start stays at second", true, 10 * time.Second, 0, 1, "192.0.2.2"},
		{"just before failback", true, 19*time.Second + 900*time.Millisecond, 0, 1, "192.0.2.2"},
		{"failback: first again, down", false, 200 * time.Millisecond, 1, 1, "192.0.2.2"},
		{"another failback period at second", true, 29 * time.Second, 0, 1, "192.0.2.2"},
		{"failback: first up", true, 2 * time.Second, 1, 0, "192.0.2.1"},
		{"start stays at first", true, 0, 1, 0, "192.0.2.1"},
	}
	for _, s := range steps {
		up.Store(s.up)
		clk.Advance(s.advance)
		f, sec := first.calls(), second.calls()
		r := mustExchange(t, u, q)
		if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != s.want {
			t.Errorf("%s: answer %v, want %s", s.name, r.Answer[0], s.want)
		}
		if df, ds := first.calls()-f, second.calls()-sec; df != s.first || ds != s.second {
			t.Errorf("%s: calls first %d second %d, want %d %d", s.name, df, ds, s.first, s.second)
		}
	}
	want := []string{
		"W upstream: " + first.addr + " failed; queries start at " + second.addr + " for 30s",
		"I upstream: " + first.addr + " answers again; queries start there",
	}
	if got := log.all(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAllDeadWithinTotal(t *testing.T) {
	silent1, _ := silentAddr(t)
	silent2, _ := silentAddr(t)
	silent3, _ := silentAddr(t)
	tests := []struct {
		name    string
		servers []string
		timeout time.Duration
		total   time.Duration
		tried   int // attempts that were made, not skipped
	}{
		{"silent servers: Total cuts the second attempt", []string{silent1, silent2, silent3},
			time.Second, 1500 * time.Millisecond, 2},
		{"closed ports: refused at once", closedAddrs(t, 2),
			time.Second, 1500 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, Config{Timeout: tt.timeout, Total: tt.total}, tt.servers...)
			begin := time.Now()
			_, err := exchange(t, u, query("www.example.org.", dns.TypeA))
			// Room for a loaded machine, and still less than a third
			// attempt would have cost.
			if took := time.Since(begin); took > tt.total+tt.timeout*9/10 {
				t.Errorf("took %v, want at most Total %v (+%v)", took, tt.total, tt.timeout*9/10)
			}
			var e *Error
			if !errors.Is(err, ErrUnreachable) || !errors.As(err, &e) {
				t.Fatalf("err %v, want an *Error wrapping ErrUnreachable", err)
			}
			if len(e.Attempts) != len(tt.servers) {
				t.Fatalf("attempts %v, want one per server", e.Attempts)
			}
			for i, a := range e.Attempts {
				notTried := strings.HasPrefix(a.Err.Error(), "not tried")
				if a.Server != tt.servers[i] || notTried != (i >= tt.tried) {
					t.Errorf("attempt %d: %s %v, want %s tried=%v", i, a.Server, a.Err, tt.servers[i], i < tt.tried)
				}
			}
			if !e.noReachableAuthority() {
				t.Errorf("%v: want no reachable authority", err)
			}
			for _, s := range tt.servers {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %s", err, s)
				}
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	silent, _ := silentAddr(t)
	u := newUpstream(t, Config{Timeout: 2 * time.Second}, silent)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	begin := time.Now()
	_, err := u.Exchange(ctx, query("www.example.org.", dns.TypeA))
	if took := time.Since(begin); took > 1500*time.Millisecond {
		t.Errorf("took %v after cancel at 50ms, with a 2s Timeout", took)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("err %v, want context.Canceled and ErrUnreachable", err)
	}
	if ede(err).InfoCode != dns.ExtendedErrorCodeNetworkError {
		t.Errorf("cancelled exchange: EDE %d, want 23", ede(err).InfoCode)
	}
}

func TestRcodeFailover(t *testing.T) {
	tests := []struct {
		name          string
		first, second dns.HandlerFunc
		wantRcode     int
		wantAnswer    bool
		calls         [2]int
		firstResult   string
	}{
		{"SERVFAIL moves on", reply(dns.RcodeServerFailure), reply(dns.RcodeSuccess, answerA),
			dns.RcodeSuccess, true, [2]int{1, 1}, resultServfail},
		{"REFUSED moves on", reply(dns.RcodeRefused), reply(dns.RcodeSuccess, answerA),
			dns.RcodeSuccess, true, [2]int{1, 1}, resultRefused},
		{"NXDOMAIN is final", reply(dns.RcodeNameError), reply(dns.RcodeSuccess, answerA),
			dns.RcodeNameError, false, [2]int{1, 0}, resultSuccess},
		{"NOERROR is final", reply(dns.RcodeSuccess, answerA), reply(dns.RcodeSuccess),
			dns.RcodeSuccess, true, [2]int{1, 0}, resultSuccess},
		{"FORMERR is final", reply(dns.RcodeFormatError), reply(dns.RcodeSuccess, answerA),
			dns.RcodeFormatError, false, [2]int{1, 0}, resultSuccess},
		{"SERVFAIL then REFUSED: the last reply, no error", reply(dns.RcodeServerFailure), reply(dns.RcodeRefused),
			dns.RcodeRefused, false, [2]int{1, 1}, resultServfail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s1, s2 := startServer(t, tt.first), startServer(t, tt.second)
			reg := prometheus.NewPedanticRegistry()
			u := newUpstream(t, Config{Registerer: reg}, s1.addr, s2.addr)
			r := mustExchange(t, u, query("www.example.org.", dns.TypeA))
			if r.Rcode != tt.wantRcode || (len(r.Answer) > 0) != tt.wantAnswer {
				t.Errorf("rcode %s answers %d, want %s answer=%v",
					dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tt.wantRcode], tt.wantAnswer)
			}
			if got := [2]int{s1.calls(), s2.calls()}; got != tt.calls {
				t.Errorf("calls %v, want %v", got, tt.calls)
			}
			promtest.Check(t, reg, map[string]float64{reqKey(s1.addr, tt.firstResult): 1})
		})
	}
}

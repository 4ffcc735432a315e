package rrl

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

func mustNew(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// count checks n replies at now and returns how many of each action.
func count(l *Limiter, now time.Time, n int, client string, class Class, name string) map[Action]int {
	got := map[Action]int{}
	for range n {
		got[l.Check(now, netip.MustParseAddr(client), class, name, 1)]++
	}
	return got
}

func TestBucket(t *testing.T) {
	l := mustNew(t, Defaults(5))
	// A burst of one second's rate passes; the rest is limited, every
	// second limited reply slipped (slip 2).
	if got := count(l, t0, 11, "192.0.2.1", Response, "a.example."); got[Send] != 5 || got[Drop] != 3 || got[Slip] != 3 {
		t.Errorf("burst of 11 at rate 5: %v, want 5 sent, 3 dropped, 3 slipped", got)
	}
	// 200 ms later, one reply's worth has been earned.
	if got := count(l, t0.Add(200*time.Millisecond), 3, "192.0.2.1", Response, "a.example."); got[Send] != 1 {
		t.Errorf("200 ms later: %v, want 1 sent", got)
	}
	// A long pause earns one second's rate, not more.
	if got := count(l, t0.Add(time.Hour), 20, "192.0.2.1", Response, "a.example."); got[Send] != 5 {
		t.Errorf("an hour later: %v, want 5 sent", got)
	}
}

// TestFlood: a client asking far faster than the rate for 10 s gets the
// rate (plus the first second's burst) and no more, whatever its speed.
func TestFlood(t *testing.T) {
	for _, qps := range []int{20, 1000, 100_000} {
		t.Run(fmt.Sprint(qps), func(t *testing.T) {
			l := mustNew(t, Defaults(10))
			sent, slipped := 0, 0
			step := time.Second / time.Duration(qps)
			for i := range 10 * qps {
				switch l.Check(t0.Add(time.Duration(i)*step), netip.MustParseAddr("198.51.100.7"), Response, "www.example.", 1) {
				case Send:
					sent++
				case Slip:
					slipped++
				}
			}
			if want := 10 * 10; sent < want || sent > want+10 {
				t.Errorf("sent %d of %d, want %d to %d (rate 10 for 10 s, a burst of 10)", sent, 10*qps, want, want+10)
			}
			if limited := 10*qps - sent; slipped < limited/2-1 || slipped > limited/2+1 {
				t.Errorf("slipped %d of %d limited, want half (slip 2)", slipped, limited)
			}
		})
	}
}

func TestAccounts(t *testing.T) {
	cfg := Defaults(2)
	cfg.Exempt = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name           string
		first, second  string // clients
		c1, c2         Class
		name1, name2   string
		qtype1, qtype2 uint16
		apart          bool // the second has its own account
	}{
		{"same /24", "192.0.2.1", "192.0.2.200", Response, Response, "a.", "a.", 1, 1, false},
		{"another /24", "192.0.2.1", "192.0.3.1", Response, Response, "a.", "a.", 1, 1, true},
		{"same /56", "2001:db8:0:1::1", "2001:db8:0:ff::2", Response, Response, "a.", "a.", 1, 1, false},
		{"another /56", "2001:db8:0:1::1", "2001:db8:0:100::1", Response, Response, "a.", "a.", 1, 1, true},
		{"IPv4-mapped", "192.0.2.1", "::ffff:192.0.2.9", Response, Response, "a.", "a.", 1, 1, false},
		{"another name", "192.0.2.1", "192.0.2.1", Response, Response, "a.", "b.", 1, 1, true},
		{"another type", "192.0.2.1", "192.0.2.1", Response, Response, "a.", "a.", 1, 28, true},
		{"nxdomain apart from responses", "192.0.2.1", "192.0.2.1", Response, NXDomain, "a.", "a.", 1, 1, true},
		{"nxdomain: one account per zone, any type", "192.0.2.1", "192.0.2.1", NXDomain, NXDomain, "zone.", "zone.", 1, 28, false},
		{"errors: one account, any name", "192.0.2.1", "192.0.2.1", Error, Error, "a.", "b.", 1, 28, false},
		{"exempt", "10.1.2.3", "10.1.2.3", Response, Response, "a.", "a.", 1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, cfg)
			for range 5 {
				l.Check(t0, netip.MustParseAddr(tc.first), tc.c1, tc.name1, tc.qtype1)
			}
			got := l.Check(t0, netip.MustParseAddr(tc.second), tc.c2, tc.name2, tc.qtype2)
			if (got == Send) != tc.apart {
				t.Errorf("after 5 replies to the first: %v for the second, want sent %v", got, tc.apart)
			}
		})
	}
}

func TestClassRates(t *testing.T) {
	cfg := Defaults(100)
	cfg.NXDomains, cfg.Errors, cfg.Slip = 3, 0, 0
	l := mustNew(t, cfg)
	if got := count(l, t0, 10, "192.0.2.1", NXDomain, "zone."); got[Send] != 3 || got[Drop] != 7 {
		t.Errorf("nxdomain at 3: %v, want 3 sent and 7 dropped (slip 0)", got)
	}
	if got := count(l, t0, 500, "192.0.2.1", Error, ""); got[Send] != 500 {
		t.Errorf("errors at 0 (unlimited): %v, want all sent", got)
	}
}

func TestSlip(t *testing.T) {
	for _, slip := range []int{0, 1, 3} {
		cfg := Defaults(1)
		cfg.Slip = slip
		l := mustNew(t, cfg)
		got := count(l, t0, 31, "192.0.2.1", Response, "a.")
		want := 0
		if slip > 0 {
			want = 30 / slip
		}
		if got[Slip] != want || got[Send] != 1 {
			t.Errorf("slip %d: %v, want 1 sent and %d of the 30 limited slipped", slip, got, want)
		}
	}
}

func TestLogOnly(t *testing.T) {
	cfg := Defaults(1)
	cfg.LogOnly = true
	l := mustNew(t, cfg)
	a := count(l, t0, 5, "192.0.2.1", Response, "a.")
	if a[Send] != 1 {
		t.Errorf("log only: Check said %v, want what it would do (1 sent)", a)
	}
	if l.Enforce(Drop) != Send || l.Enforce(Slip) != Send {
		t.Error("log only: a limited reply is not sent")
	}
	if mustNew(t, Defaults(1)).Enforce(Drop) != Drop {
		t.Error("enforcing: a dropped reply is sent")
	}
}

// TestTableBound: a spread of client networks far larger than the table
// keeps it at its bound, and each new network starts with a full bucket.
func TestTableBound(t *testing.T) {
	cfg := Defaults(1)
	cfg.Table = 1024
	l := mustNew(t, cfg)
	for i := range 100_000 {
		a := netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1})
		if l.Check(t0, a, Response, "a.", 1) != Send {
			t.Fatalf("client %v, new: limited", a)
		}
	}
	n := 0
	for i := range l.shards {
		n += l.shards[i].lru.Len()
	}
	if n > cfg.Table {
		t.Errorf("%d accounts, want at most %d", n, cfg.Table)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"negative rate", func(c *Config) { c.Errors = -1 }},
		{"rate too high", func(c *Config) { c.Responses = maxRate + 1 }},
		{"slip", func(c *Config) { c.Slip = 11 }},
		{"prefix4", func(c *Config) { c.Prefix4 = 33 }},
		{"prefix6", func(c *Config) { c.Prefix6 = -1 }},
		{"table", func(c *Config) { c.Table = 0 }},
	} {
		cfg := Defaults(5)
		tc.edit(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", tc.name, err)
		}
	}
	if _, err := New(Defaults(maxRate)); err != nil {
		t.Errorf("the highest rate: %v", err)
	}
}

func BenchmarkCheck(b *testing.B) {
	l, _ := New(Defaults(1_000_000))
	a := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		l.Check(t0.Add(time.Duration(i)), a, Response, "www.example.", 1)
	}
}

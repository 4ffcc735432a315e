package e2eutil

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAnswerKey checks the wire reader against replies packed by
// miekg/dns, compressed and not.
func TestAnswerKey(t *testing.T) {
	_, taipei, _ := net.ParseCIDR("27.0.0.0/24")
	q := Query("web.example.com.", *taipei)
	question := q[12 : len("web.example.com.")+1+12+4]
	reply := func(rcode int, compress bool, rrs ...string) []byte {
		m := new(dns.Msg)
		if err := m.Unpack(q); err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		r.SetRcode(m, rcode)
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			r.Answer = append(r.Answer, rr)
		}
		r.SetEdns0(1232, false)
		r.Compress = compress
		b, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := reply(dns.RcodeSuccess, true, "web.example.com. 30 IN A 192.0.2.1")
	copy(other[13:16], "xyz") // the question's first label: xyz.example.com.
	for _, tc := range []struct {
		name  string
		reply []byte
		key   string
		same  bool
		ok    bool
	}{
		{"one A, compressed", reply(dns.RcodeSuccess, true, "web.example.com. 30 IN A 192.0.2.1"), "192.0.2.1", true, true},
		{"two A, not compressed", reply(dns.RcodeSuccess, false, "web.example.com. 30 IN A 198.51.100.2", "web.example.com. 30 IN A 192.0.2.1"), "192.0.2.1,198.51.100.2", true, true},
		{"AAAA", reply(dns.RcodeSuccess, true, "web.example.com. 30 IN AAAA 2001:db8::1"), "2001:db8::1", true, true},
		{"TXT, first string", reply(dns.RcodeSuccess, true, `web.example.com. 30 IN TXT "cluster=member-1" "region=us"`), "cluster=member-1", true, true},
		{"CNAME only", reply(dns.RcodeSuccess, true, "web.example.com. 30 IN CNAME lb.example.net."), "", true, true},
		{"SERVFAIL", reply(dns.RcodeServerFailure, true), "RCODE:SERVFAIL", true, true},
		{"truncated", reply(dns.RcodeSuccess, true, "web.example.com. 30 IN A 192.0.2.1")[:40], "", true, false},
		{"header only", make([]byte, 12), "", false, false},
		{"another question", other, "192.0.2.1", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, same, key, ok := AnswerKey(tc.reply, question)
			if key != tc.key || same != tc.same || ok != tc.ok {
				t.Errorf("AnswerKey = %q same %v ok %v, want %q same %v ok %v", key, same, ok, tc.key, tc.same, tc.ok)
			}
		})
	}
}

// TestLatencyBuckets checks that each bucket holds its floor and the
// buckets grow by about 3%.
func TestLatencyBuckets(t *testing.T) {
	for _, us := range []uint64{0, 1, 63, 64, 65, 100, 999, 1000, 12345, 1 << 20, 1<<33 + 5} {
		i := bucket(us)
		lo, hi := bucketFloor(i), bucketFloor(i+1)
		if d := time.Duration(us) * time.Microsecond; d < lo || d >= hi {
			t.Errorf("%d µs in bucket %d [%v, %v)", us, i, lo, hi)
		}
		if us >= 64 && float64(hi-lo)/float64(lo) > 1.0/32+1e-9 {
			t.Errorf("bucket %d [%v, %v) wider than 1/32", i, lo, hi)
		}
	}
	var w LatencyWindow
	for i := range 100 {
		w.add(time.Duration(i+1)*time.Millisecond, true)
	}
	if p := w.Quantile(0.99); p < 97*time.Millisecond || p > 100*time.Millisecond {
		t.Errorf("p99 of 1..100 ms = %v", p)
	}
}

// TestExpect checks that an answer is right when it is allowed at some
// moment between sending and arrival, and counted under the change in
// force when it was sent.
func TestExpect(t *testing.T) {
	e := NewExpect("a")
	t0 := time.Now()
	time.Sleep(2 * time.Millisecond)
	e.Set("flip", "a", "b")
	t1 := time.Now()
	time.Sleep(2 * time.Millisecond)
	e.Set("settled", "b")
	t2 := time.Now()
	for _, tc := range []struct {
		sent, recv time.Time
		got        string
		want       bool
	}{
		{t0, t0, "a", true},
		{t0, t0, "b", false},
		{t0, t1, "b", true}, // b allowed from the flip, before the reply came
		{t1, t2, "a", true},
		{t2, t2, "a", false},
		{t2, t2, "c", false},
	} {
		if got := e.Check(tc.sent, tc.recv, tc.got); got != tc.want {
			t.Errorf("sent %v recv %v: %q allowed %v, want %v", tc.sent.Sub(t0), tc.recv.Sub(t0), tc.got, got, tc.want)
		}
	}
	c := e.Changes()
	if len(c) != 3 || c[0].Counts["a"] != 1 || c[0].Wrong != 1 || c[2].Wrong != 2 || c[2].Example() == "" {
		t.Errorf("changes: %+v", c)
	}
}

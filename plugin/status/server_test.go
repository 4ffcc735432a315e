package status

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/plugin/explain"
)

// TestCheckAddr checks addresses, binding none: every-interface ones are
// written with JoinHostPort.
func TestCheckAddr(t *testing.T) {
	every4, every := net.JoinHostPort("0.0.0.0", "8053"), net.JoinHostPort("", "8053")
	for _, tc := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:8053", false, true},
		{"[::1]:8053", false, true},
		{"127.0.0.2:0", false, true},
		{every4, false, false},
		{every, false, false},
		{"192.0.2.1:8053", false, false},
		{"192.0.2.1:8053", true, true},
		{every, true, true},
		{"localhost:8053", false, false},
		{"127.0.0.1", false, false},
		{"127.0.0.1:", false, false},
	} {
		if err := CheckAddr(tc.addr, tc.remote); (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%q, %v) = %v, want ok %v", tc.addr, tc.remote, err, tc.ok)
		}
	}
}

// blocking is a backend whose Explain waits until released.
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) Explain(ctx context.Context, q explain.Question) (*explain.Report, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return &explain.Report{Verdict: "ok " + q.Name}, nil
}

func (b *blocking) Overview() Overview { return Overview{Federation: "f<b>", Now: time.Now()} }

// TestServerBounds: a question that does not parse gets 400 with a
// message, other methods 405, requests beyond the concurrency bound 503,
// a slow one is cut at the timeout, and a second Start on the address
// hands the listener over.
func TestServerBounds(t *testing.T) {
	b := &blocking{entered: make(chan struct{}, 4), release: make(chan struct{})}
	s, err := Start(Config{Addr: "127.0.0.1:0", MaxInFlight: 2, Timeout: 2 * time.Second}, b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(b)
	base := "http://" + s.Addr()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/explain", 400, "name is missing"},
		{"/explain?name=a.example.com&client=300.1.1.1", 400, "client"},
		{"/explain?name=a.example.com&type=NOPE", 400, "not a DNS type"},
		{"/nothing", 404, ""},
		{"/", 200, "f&lt;b&gt;"},
	} {
		code, body := get(tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d %q, want %d with %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	if resp, err := http.Post(base+"/explain", "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST: %v %v, want 405", resp, err)
	}

	// Two explains fill the bound; a third is refused at once.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { codes[i], _ = get("/explain?name=a.example.com&client=192.0.2.1") })
	}
	<-b.entered
	<-b.entered
	if code, body := get("/explain?name=b.example.com&client=192.0.2.1"); code != 503 {
		t.Errorf("third request in flight: %d %q, want 503", code, body)
	}
	close(b.release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Errorf("the two in flight: %v, want 200s", codes)
	}
	code, body := get("/explain?name=c.example.com&client=192.0.2.0/24")
	var rep explain.Report
	if err := json.Unmarshal([]byte(body), &rep); code != 200 || err != nil || rep.Verdict != "ok c.example.com." {
		t.Errorf("explain: %d %q %v", code, body, err)
	}

	// A reloaded instance takes the listener over; the old one's Stop
	// leaves it running.
	b2 := &blocking{entered: make(chan struct{}, 4), release: make(chan struct{})}
	close(b2.release)
	s2, err := Start(Config{Addr: s.addr}, b2)
	if err != nil || s2 != s {
		t.Fatalf("second Start: %v, %p vs %p", err, s2, s)
	}
	if err := s.Stop(b); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/explain?name=d.example.com&client=192.0.2.1"); code != 200 || len(b2.entered) != 1 {
		t.Errorf("after the old instance stopped: %d, the new backend asked %d times", code, len(b2.entered))
	}
	if err := s.Stop(b2); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("listener still open after the last Stop")
	}
}

func TestServerTimeout(t *testing.T) {
	b := &blocking{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s, err := Start(Config{Addr: "127.0.0.1:0", Timeout: 200 * time.Millisecond}, b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(b)
	start := time.Now()
	resp, err := http.Get("http://" + s.Addr() + "/explain?name=a.example.com&client=192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) > 2*time.Second {
		t.Errorf("slow explain: %d after %v, want 503 at the 200ms timeout", resp.StatusCode, time.Since(start))
	}
}

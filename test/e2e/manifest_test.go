package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// The manifest folder's poll in TestManifestWrittenInTwoParts, and the
// pause between the two parts of the write: less than one poll, with room
// for a busy machine to be late.
const (
	manifestPoll  = time.Second
	twoPartsPause = 300 * time.Millisecond
)

const asiaANginx = "nginx.default.myfederation.svc.asia-east1-a.asia-east1.example.com."

// TestManifestWrittenInTwoParts rewrites asia-east1-a's services.yaml in
// place in two parts, twoPartsPause apart, as a slow writer would
// (docs/dns-behaviour.md: "a file written in place is never applied
// half-written"). The new file moves nginx's load balancer to 203.0.113.99;
// the first part ends before the nginx Service, so applied alone it would
// take the shard out of its zone name at once.
// A client asking all along sees the old address, then the new one, and
// nothing else.
func TestManifestWrittenInTwoParts(t *testing.T) {
	// Only the manifests lines of Corefile.example name 250ms.
	s := startDemoWith(t, " 250ms\n", " "+manifestPoll.String()+"\n")
	if got := e2eutil.Addrs(s.Ask(t, "udp", asiaANginx, dns.TypeA, "")); !slices.Equal(got, []string{"203.0.113.11"}) {
		t.Fatalf("before: %v, want 203.0.113.11", got)
	}
	path := filepath.Join(s.demo, "asia-east1-a", "services.yaml")
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	content := strings.Replace(string(old), "ip: 203.0.113.11", "ip: 203.0.113.99", 1)
	cut := strings.Index(content, "\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: nginx\n")
	if cut < 0 || !strings.Contains(content[cut:], "203.0.113.99") {
		t.Fatalf("services.yaml has no document before the nginx Service:\n%s", content)
	}

	seen := watchAnswers(s, asiaANginx)
	writeInTwoParts(t, path, content[:cut+1], content[cut+1:], twoPartsPause)
	took := e2eutil.Eventually(t, 10*time.Second, "new address", func() bool { return seen.last() == "203.0.113.99" })
	// Two more polls: a half-written state must not show up late either.
	time.Sleep(2 * manifestPoll)
	answers := seen.stop()
	t.Logf("new address answered %v after the write; answers seen: %v", took, answers)
	for _, a := range answers {
		if a != "203.0.113.11" && a != "203.0.113.99" {
			t.Errorf("answered %q while the file was being written: the half-written file was applied", a)
		}
	}
}

// writeInTwoParts truncates path and writes first, waits pause, then
// appends rest, as one writer that stalls midway.
func writeInTwoParts(t *testing.T, path, first, rest string, pause time.Duration) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause)
	if _, err := f.WriteString(rest); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// answerWatch asks for one name every 5 ms and keeps each distinct answer
// (its addresses, or its rcode and record types when it has none).
type answerWatch struct {
	mu   sync.Mutex
	seen []string
	done chan struct{}
	wg   sync.WaitGroup
}

func watchAnswers(s *server, name string) *answerWatch {
	w := &answerWatch{done: make(chan struct{})}
	w.wg.Go(func() {
		for {
			select {
			case <-w.done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			r, err := s.Exchange("udp", name, dns.TypeA, "")
			if err != nil {
				continue
			}
			a := strings.Join(e2eutil.Addrs(r), ",")
			if a == "" {
				a = dns.RcodeToString[r.Rcode] + " " + strings.Join(types(r), ",")
			}
			w.mu.Lock()
			if len(w.seen) == 0 || w.seen[len(w.seen)-1] != a {
				w.seen = append(w.seen, a)
			}
			w.mu.Unlock()
		}
	})
	return w
}

// last is the latest answer, or "" before the first.
func (w *answerWatch) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) == 0 {
		return ""
	}
	return w.seen[len(w.seen)-1]
}

// stop ends the queries and returns the answers in the order seen.
func (w *answerWatch) stop() []string {
	close(w.done)
	w.wg.Wait()
	return w.seen
}

// types lists the types of r's answer records.
func types(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		out = append(out, dns.TypeToString[rr.Header().Rrtype])
	}
	return out
}

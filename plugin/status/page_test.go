package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
)

// TestRenderEscapes: what members and sources say is text on the page.
func TestRenderEscapes(t *testing.T) {
	snap := bigSnapshot(3)
	ov := Overview{Federation: "fed", Zones: []string{"example.com."}, Role: "authoritative", Snapshot: snap, Now: time.Now(),
		Errors:      map[string]SourceError{"cluster-01": {At: time.Now(), Error: `<script>alert("e")</script>`, Count: 2}},
		Transitions: []health.Transition{{At: time.Now(), Signal: "probe", What: `c/ns/<b>x</b>`, From: "up", To: "down", Detail: `"><svg onload=alert(1)>`}},
	}
	var buf bytes.Buffer
	if err := render(&buf, ov, NewIndex(snap), parseParams(map[string][]string{"q": {`"><i>q`}})); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{`<script>alert`, `<b>x</b>`, `<svg onload`, `"><i>q`} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{`&lt;script&gt;alert(&#34;e&#34;)&lt;/script&gt;`, `c/ns/&lt;b&gt;x&lt;/b&gt;`, `data-cluster="cluster-09"`, `2 in all`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

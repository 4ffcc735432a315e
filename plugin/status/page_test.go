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
		Errors:      map[string]SourceError{"cluster-01": {At: time.Now(), Error: "<script>alert(\"e\")</script>\x1b[31m\x00\x7f", Count: 2}},
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
	for i, c := range page { // control characters are shown, not sent (issue 16, item 6)
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			t.Errorf("the page holds the control character %U at %d", c, i)
		}
	}
	for _, want := range []string{`&lt;script&gt;alert(&#34;e&#34;)&lt;/script&gt;\x1b[31m`, `c/ns/&lt;b&gt;x&lt;/b&gt;`, `data-cluster="cluster-09"`, `2 in all`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

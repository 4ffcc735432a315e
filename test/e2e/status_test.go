package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/explain"
	"github.com/meridian-dns/meridian/test/e2eutil"
)

// hostile is an annotation value with markup in it: the page must show it
// as text.
const hostile = `<img src=x onerror="document.title='pwned'">`

// TestStatusPage opens the real binary's status page in headless
// Chromium: the demo's nine clusters and its services and hosts, a
// hostile annotation value shown escaped, a screenshot kept; then the
// Asian shards are made unready and the open page (refreshed in place by
// its script, never reloaded) shows them down within seconds.
func TestStatusPage(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		e2eutil.RequireRealParts(t, "chromium is not installed (make test installs it)")
	}
	s := startDemo(t)
	s.editDemo(t, "europe-west1-b", "kind: Service\nmetadata:\n  name: nginx\n",
		"  labels:\n    federation.meridian.dev/name", "  annotations:\n    meridian.dev/policy: "+strconv.Quote(hostile)+"\n  labels:\n    federation.meridian.dev/name")
	e2eutil.Eventually(t, 10*time.Second, "the hostile annotation is reported", func() bool {
		return strings.Contains(s.Out.String(), "annotation meridian.dev/policy=")
	})

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 1600))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+s.Status+"/"), chromedp.WaitVisible("#clusters")); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	type pageState struct {
		Clusters []string
		Services map[string]string // name -> state
		Down     map[string]string // name -> not usable in
		Problems string
		Images   int
		Title    string
		Changes  string
	}
	var page pageState
	read := func() {
		t.Helper()
		const js = `(() => ({
			Clusters: [...document.querySelectorAll('#clusters tr[data-cluster]')].map(r => r.dataset.cluster),
			Services: Object.fromEntries([...document.querySelectorAll('#services tr[data-name]')].map(r => [r.dataset.name, r.dataset.state])),
			Down: Object.fromEntries([...document.querySelectorAll('#services tr[data-name]')].map(r => [r.dataset.name, r.cells[5].textContent])),
			Problems: (document.getElementById('problems') || {textContent: ''}).textContent,
			Images: document.querySelectorAll('main img').length,
			Title: document.title,
			Changes: document.getElementById('transitions').textContent,
		}))()`
		if page, err = chromedp.Run(ctx, chromedp.Evaluate[pageState](js)); err != nil {
			t.Fatalf("read the page: %v", err)
		}
	}
	read()
	if len(page.Clusters) != 9 {
		t.Errorf("clusters %v, want the demo's nine", page.Clusters)
	}
	for _, name := range []string{"default/nginx", "shop.example.com", "*.shop.example.com", "api.example.com"} {
		if page.Services[name] == "" {
			t.Errorf("%s not listed: %v", name, page.Services)
		}
	}
	if !strings.Contains(page.Problems, strconv.Quote(hostile)) || page.Images != 0 || page.Title == "pwned" || title == "pwned" {
		t.Errorf("the hostile annotation: problems %q, %d images on the page, title %q; want the value shown as text", page.Problems, page.Images, page.Title)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("MERIDIAN_ARTIFACTS"); d != "" {
		dir = d // kept after the test, to look at; PNG at quality 100
	}
	path := filepath.Join(dir, "status.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(shot) < 20_000 {
		t.Errorf("screenshot %s is %d bytes: too small to show the page", path, len(shot))
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))

	for _, c := range asiaClusters {
		s.editDemo(t, c, "name: nginx-demo", "ready: true", "ready: false")
	}
	took := e2eutil.Eventually(t, 20*time.Second, "the page shows nginx's Asian shards down", func() bool {
		read()
		down := page.Down["default/nginx"]
		return page.Services["default/nginx"] == "degraded" && strings.Contains(down, "asia-east1-a") &&
			strings.Contains(down, "asia-east1-b") && strings.Contains(down, "asia-east1-c") &&
			strings.Contains(page.Changes, "asia-east1-c/default/nginx")
	})
	t.Logf("the open page showed the Asian shards down after %v", took)
}

// TestExplainEndpoint asks the real binary's explain endpoint, and
// meridianctl explain, about the answers a Taipei client gets, and checks
// them against the DNS answers the same binary gives.
func TestExplainEndpoint(t *testing.T) {
	s := startDemo(t)
	get := func(q url.Values) (int, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + s.Status + "/explain?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, name := range []string{nginx, "shop.example.com."} {
		code, body := get(url.Values{"name": {name}, "client": {taipei}})
		var rep explain.Report
		if err := json.Unmarshal(body, &rep); code != 200 || err != nil {
			t.Fatalf("%s: %d %v\n%s", name, code, err, body)
		}
		dnsAnswer := s.Ask(t, "udp", name, dns.TypeA, taipei)
		var want []string
		for _, rr := range dnsAnswer.Answer {
			want = append(want, strings.ReplaceAll(rr.String(), "\t", " "))
		}
		if !slices.Equal(rep.Reply.Answer, want) || len(rep.Decision.Chosen) == 0 || !strings.HasPrefix(rep.Decision.Chosen[0], "asia-east1-") {
			t.Errorf("%s: explain says %v chose %v; DNS answers %v", name, rep.Reply.Answer, rep.Decision.Chosen, want)
		}
		if !rep.Client.Known || rep.Client.Used != true || len(rep.Shards) != 9 {
			t.Errorf("%s: client %+v, %d shards", name, rep.Client, len(rep.Shards))
		}
	}
	if code, body := get(url.Values{"name": {nginx}, "client": {"not-an-ip"}}); code != 400 || !strings.Contains(string(body), "client") {
		t.Errorf("bad client: %d %s, want 400 with a message", code, body)
	}

	ctl := e2eutil.Meridianctl(t)
	out, err := exec.Command(ctl, "explain", nginx, "--client", taipei, "--server", "http://"+s.Status).CombinedOutput()
	if err != nil {
		t.Fatalf("meridianctl explain: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"A " + strings.TrimSuffix(nginx, ".") + " for " + taipei, "by closest", "CLUSTER", "asia-east1-a", " km", "#1", "reply NOERROR"} {
		if !strings.Contains(text, want) {
			t.Errorf("meridianctl explain output lacks %q:\n%s", want, text)
		}
	}
	t.Logf("meridianctl explain:\n%s", text)
}

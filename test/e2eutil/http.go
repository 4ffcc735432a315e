package e2eutil

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// HTTPGet returns the body of a GET of u; an error or a status other than
// 200 fails t.
func HTTPGet(t testing.TB, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.300s", u, resp.Status, b)
	}
	return string(b)
}

// CheckClean fails t if text (a page or a JSON body of the status
// listener, what names it) holds an unescaped '<script>alert' (the page
// has a script of its own), a control character other than tab, newline
// and carriage return (DEL is legal in JSON, so json lets it through), or
// bytes that are not UTF-8: what hostile object content must never reach
// (issue 16, item 6).
func CheckClean(t testing.TB, what, text string, json bool) {
	t.Helper()
	if strings.Contains(text, "<script>alert") {
		t.Errorf("%s holds a raw <script>alert", what)
	}
	for i, r := range text {
		if (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || (r == 0x7f && !json) {
			t.Errorf("%s holds the control character %U at %d: %q", what, r, i, text[max(0, i-40):min(len(text), i+40)])
			return
		}
	}
	if !utf8.ValidString(text) {
		t.Errorf("%s is not valid UTF-8", what)
	}
}

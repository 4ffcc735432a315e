package health

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestHTTPBodyWindow: probe_expect's text is searched in the first 64 KiB
// of the body, as docs/health.md says: text that ends at the 64 KiB mark
// passes, text that starts after it or crosses it fails with ErrBody.
func TestHTTPBodyWindow(t *testing.T) {
	const window, text = 64 << 10, "meridian-ok"
	tests := []struct {
		name   string
		before int // filler bytes before the text
		ok     bool
	}{
		{"at the start", 0, true},
		{"ends at the last byte of the window", window - len(text), true},
		{"crosses the end of the window", window - len(text) + 1, false},
		{"after the window", window, false},
		{"far after the window", 4 * window, false},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		for _, tc := range tests {
			if r.URL.Path == "/"+strings.ReplaceAll(tc.name, " ", "-") {
				n = tc.before
			}
		}
		_, _ = w.Write([]byte(strings.Repeat("x", n) + text + strings.Repeat("y", 1000)))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	addr := netip.MustParseAddrPort(ln.Addr().String())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := fastSpec(HTTP)
			spec.Path, spec.Body = "/"+strings.ReplaceAll(tc.name, " ", "-"), text
			err := probeOnce(t, NewProber(ProberConfig{}), Target{TargetKey: key("web", addr), Spec: spec})
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBody)) {
				t.Errorf("probe: %v, want ok %v (or ErrBody)", err, tc.ok)
			}
		})
	}
}

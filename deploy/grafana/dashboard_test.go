package grafana

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestDashboardFile: meridian.json is what Dashboard generates (set
// MERIDIAN_UPDATE=1, or run make dashboard, to write it), and holds every
// query of the panels.
func TestDashboardFile(t *testing.T) {
	want, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MERIDIAN_UPDATE") != "" {
		if err := os.WriteFile("meridian.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("meridian.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("meridian.json is not what deploy/grafana generates: run make dashboard")
	}
	exprs, err := Exprs(got, "1m")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		for _, p := range r.panels {
			n += len(p.queries)
		}
	}
	if len(exprs) != n || n < 15 {
		t.Errorf("%d expressions in the file, %d in the panels", len(exprs), n)
	}
	for _, e := range exprs {
		if strings.Contains(e, "$") {
			t.Errorf("%q: a Grafana variable left for Prometheus", e)
		}
	}
}

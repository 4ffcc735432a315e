package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// geoipReloads is the series of failed (result="error") or good ("ok")
// GeoIP reloads.
func geoipReloads(result string) string {
	return `coredns_meridian_geoip_reloads_total{result="` + result + `"}`
}

// TestGeoIPGarbageKeepsDatabase runs the demo on a private copy of the test
// GeoIP database, re-read every second, and damages the file while it runs:
// cut to half, random bytes written in place, emptied, deleted, random bytes
// renamed into place. Through each the Chicago and Taipei clients keep
// their answers and scopes, failed reloads are counted, and a log line
// names the file and the error (one per bad version of the file). Before
// the last garbage the good database comes back (renamed into place); last a
// changed one (Chicago's network moved to Paris) is written in place: the
// Chicago client is then answered from europe-west1.
func TestGeoIPGarbageKeepsDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "city.mmdb")
	good, err := os.ReadFile(filepath.Join(e2eutil.RepoRoot(), "testdata", "geoip", "meridian-test-city.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, good, 0o644); err != nil {
		t.Fatal(err)
	}
	moved := movedDatabase(t, db)
	s := startDemoWith(t, "geoip testdata/geoip/meridian-test-city.mmdb 30s", "geoip "+db+" 1s")

	// answers are what the Chicago client (whose region is also the
	// default's first, so its addresses alone would not tell) and the
	// Taipei client get: addresses and ECS scopes.
	answers := func() string {
		t.Helper()
		var out []string
		for _, client := range []string{chi, taipei} {
			r := s.Ask(t, "udp", nginx, dns.TypeA, client)
			ecs := e2eutil.Subnet(r)
			if r.Rcode != dns.RcodeSuccess || ecs == nil {
				t.Fatalf("%s: rcode %s, ECS %v: want an answer with a scope", client, dns.RcodeToString[r.Rcode], ecs)
			}
			out = append(out, fmt.Sprintf("%s: %v /%d", client, slices.Sorted(slices.Values(e2eutil.Addrs(r))), ecs.SourceScope))
		}
		return strings.Join(out, "; ")
	}
	before := answers()
	if !strings.Contains(before, chi+": [192.0.2.") || !strings.Contains(before, taipei+": [203.0.113.") {
		t.Fatalf("before any damage: %s; want Chicago in us-central1 (192.0.2.*), Taipei in asia-east1 (203.0.113.*)", before)
	}
	t.Logf("before: %s", before)
	random := func(n int) []byte {
		b := make([]byte, n)
		r := rand.New(rand.NewPCG(1, uint64(n)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	damage := []struct {
		name string
		do   func() error
	}{
		{"cut to half", func() error { return os.Truncate(db, int64(len(good)/2)) }},
		{"random bytes in place", func() error { return os.WriteFile(db, random(len(good)+7), 0o644) }},
		{"emptied", func() error { return os.Truncate(db, 0) }},
		{"deleted", func() error { return os.Remove(db) }},
		{"random bytes renamed in", func() error { return renameInto(db, random(4096)) }},
	}
	for i, d := range damage {
		if i == len(damage)-1 {
			// Between the deletion and the last garbage, the good file comes
			// back by rename: it is loaded, and answers as before.
			okBefore := count(t, s, geoipReloads("ok"))
			if err := renameInto(db, good); err != nil {
				t.Fatal(err)
			}
			e2eutil.Eventually(t, 30*time.Second, "the restored database to load", func() bool {
				return count(t, s, geoipReloads("ok")) > okBefore
			})
			if got := answers(); got != before {
				t.Errorf("after the restore: %s, want %s", got, before)
			}
		}
		t.Run(d.name, func(t *testing.T) {
			errBefore := count(t, s, geoipReloads("error"))
			logged := strings.Count(s.Out.String(), "geoip: reload failed")
			if err := d.do(); err != nil {
				t.Fatal(err)
			}
			e2eutil.Eventually(t, 30*time.Second, "a failed reload counted", func() bool {
				return count(t, s, geoipReloads("error")) >= errBefore+2 // at least two ticks on the garbage
			})
			for range 20 {
				if got := answers(); got != before {
					t.Fatalf("during the garbage: %s, want %s as before", got, before)
				}
			}
			e2eutil.Eventually(t, 10*time.Second, "a log line of the failure", func() bool {
				return strings.Count(s.Out.String(), "geoip: reload failed") > logged
			})
			line := lastLine(s.Out.String(), "geoip: reload failed")
			if !strings.Contains(line, db) {
				t.Errorf("the failure's log line does not name the file %s: %q", db, line)
			}
			t.Logf("logged: %s", line)
		})
	}

	okBefore := count(t, s, geoipReloads("ok"))
	if err := os.WriteFile(db, moved, 0o644); err != nil { // in place
		t.Fatal(err)
	}
	e2eutil.Eventually(t, 30*time.Second, "the changed database to load", func() bool {
		return count(t, s, geoipReloads("ok")) > okBefore
	})
	got := answers()
	if !strings.Contains(got, chi+": [198.51.100.") || !strings.Contains(got, taipei+": [203.0.113.") {
		t.Errorf("with Chicago moved to Paris: %s; want Chicago in europe-west1 (198.51.100.*), Taipei still in asia-east1", got)
	}
	t.Logf("after: %s", got)
	if !strings.Contains(s.Out.String(), "geoip: reloaded "+db) {
		t.Errorf("no log line of the reload of %s", db)
	}
}

// movedDatabase returns the database at path with Chicago's network
// (24.0.0.0/16, New York's /24 inside it included) given Paris's record.
func movedDatabase(t *testing.T, path string) []byte {
	t.Helper()
	tree, err := mmdbwriter.Load(path, mmdbwriter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, paris := tree.Get(net.ParseIP("81.0.0.1"))
	if paris == nil {
		t.Fatal("no record for 81.0.0.1 in the test database")
	}
	_, chicago, _ := net.ParseCIDR("24.0.0.0/16")
	if err := tree.Insert(chicago, paris); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// renameInto writes data beside path and renames it over path.
func renameInto(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// count returns the value of a counter series, 0 when absent.
func count(t *testing.T, s *server, series string) float64 {
	t.Helper()
	v := s.Metric(t, series)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", series, v, err)
	}
	return f
}

// lastLine returns the last line of out that contains marker.
func lastLine(out, marker string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], marker) {
			return lines[i]
		}
	}
	return ""
}

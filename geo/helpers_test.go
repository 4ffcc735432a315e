package geo

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// testDB is the committed test database (see testdata/geoip/README.md).
const testDB = "../testdata/geoip/meridian-test-city.mmdb"

// Places of the test database, and of the variant databases tests write.
var (
	taipei       = Point{25.0330, 121.5654}
	tokyo        = Point{35.6762, 139.6503}
	singapore    = Point{1.3521, 103.8198}
	chicago      = Point{41.8781, -87.6298}
	newYork      = Point{40.7128, -74.0060}
	losAngeles   = Point{34.0522, -118.2437}
	paris        = Point{48.8566, 2.3522}
	frankfurt    = Point{50.1109, 8.6821}
	johannesburg = Point{-26.2041, 28.0473}
	saoPaulo     = Point{-23.5505, -46.6333}
	sydney       = Point{-33.8688, 151.2093}
	london       = Point{51.5074, -0.1278}
)

// testNet is one network of a variant database.
type testNet struct {
	cidr  string
	place Point
}

// buildDB returns an MMDB of type dbType holding nets, each with a City
// location record.
func buildDB(t testing.TB, dbType string, nets ...testNet) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"location": mmdbtype.Map{
			"latitude":  mmdbtype.Float64(n.place.Lat),
			"longitude": mmdbtype.Float64(n.place.Lon),
		}}
		if err := tree.Insert(ipnet, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// variantDB is the test database with 27.0.0.0/16 moved from Taipei to
// Sydney, and a /28 inside it in London.
func variantDB(t testing.TB) []byte {
	return buildDB(t, "GeoIP2-City",
		testNet{"27.0.0.0/16", sydney},
		testNet{"27.0.5.16/28", london},
		testNet{"36.0.0.0/16", tokyo},
	)
}

// copyTestDB copies the committed database into a fresh temporary directory
// and returns the copy's path.
func copyTestDB(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(testDB)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	writeFile(t, path, data)
	return path
}

// writeFile replaces path with data through a rename, and moves its
// modification time on so a change is seen even within the file system's
// time resolution.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bumpModTime(t, tmp)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// bumpModTime sets path's modification time one second past its current one.
func bumpModTime(t testing.TB, path string) {
	t.Helper()
	mtime.Lock()
	defer mtime.Unlock()
	mtime.next = mtime.next.Add(time.Second)
	if err := os.Chtimes(path, mtime.next, mtime.next); err != nil {
		t.Fatal(err)
	}
}

// mtime hands out increasing modification times.
var mtime = struct {
	sync.Mutex
	next time.Time
}{next: time.Now()}

// newLocator returns a Locator for cfg, stopped when the test ends.
func newLocator(t testing.TB, cfg Config) *Locator {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(l.Stop)
	return l
}

func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// near reports whether a and b are within 1 km of each other.
func near(a, b Point) bool { return Distance(a, b) < 1 }

func pointString(p Point) string { return fmt.Sprintf("(%.4f,%.4f)", p.Lat, p.Lon) }

// testLogger records what a Locator logs.
type testLogger struct {
	mu       sync.Mutex
	infos    []string
	warnings []string
}

// Debugf drops the line: the tests count infos and warnings.
func (l *testLogger) Debugf(string, ...any) {}

func (l *testLogger) Infof(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.infos = append(l.infos, fmt.Sprintf(format, args...))
}

func (l *testLogger) Warningf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

func (l *testLogger) counts() (infos, warnings int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.infos), len(l.warnings)
}

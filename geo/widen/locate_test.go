package widen_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/geo/widen"
)

// TestLocateIn puts the table on a Locator over the test database: a
// client's scope widens to the table's network once the table is built
// for the locations asked with, and not for another set (not the same
// slice) or before it is built; the location itself is the database's.
func TestLocateIn(t *testing.T) {
	l, err := geo.New(geo.Config{Path: "../../testdata/geoip/meridian-test-city.mmdb", Widen: widen.Build})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	// Three data centers, sorted as a snapshot's Locations are.
	locs := []geo.Point{{Lat: 1.3521, Lon: 103.8198}, {Lat: 41.8781, Lon: -87.6298}, {Lat: 50.1109, Lon: 8.6821}}
	client := netip.MustParsePrefix("24.0.129.0/24") // Chicago, in a /24 of the test database
	plain := l.Locate(client)
	if got := l.LocateIn(client, locs); got != plain {
		t.Fatalf("before SetLocations: %+v, want the database's %+v", got, plain)
	}
	if l.ScopesSettled(locs) {
		t.Error("ScopesSettled before the table is built")
	}
	l.SetLocations(locs)
	var wide geo.Location
	deadline := time.Now().Add(10 * time.Second)
	for wide = l.LocateIn(client, locs); wide == plain && time.Now().Before(deadline); wide = l.LocateIn(client, locs) {
		time.Sleep(5 * time.Millisecond)
	}
	if wide.Scope >= plain.Scope || !wide.Net.Contains(client.Addr()) || wide.Point != plain.Point || wide.Known != plain.Known {
		t.Fatalf("widened %+v from %+v: want a wider network holding the client, same place", wide, plain)
	}
	if !l.ScopesSettled(locs) {
		t.Error("not ScopesSettled once the table is built")
	}
	other := append([]geo.Point(nil), locs...) // equal, but not the snapshot's slice
	if got := l.LocateIn(client, other); got != plain {
		t.Errorf("for another location set: %+v, want the database's %+v", got, plain)
	}
	t.Logf("24.0.129.0/24: scope /%d widened to %s", plain.Scope, wide.Net)
	none, err := geo.New(geo.Config{Widen: widen.Build}) // no database: nothing to wait for
	if err != nil {
		t.Fatal(err)
	}
	defer none.Stop()
	if !none.ScopesSettled(locs) {
		t.Error("without a database: not ScopesSettled")
	}
}

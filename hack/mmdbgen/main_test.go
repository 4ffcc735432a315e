package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// committed is the database go generate writes from this table.
const committed = "../../testdata/geoip/meridian-test-city.mmdb"

func TestCommittedDatabaseIsCurrent(t *testing.T) {
	want, err := build(networks)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go generate ./geo", committed)
	}
}

func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.mmdb")
	for range 2 { // the second run replaces the first file
		if err := run(path); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if err := run(filepath.Join(t.TempDir(), "missing", "out.mmdb")); err == nil {
		t.Error("run into a missing directory succeeded")
	}
}

// Command mmdbgen writes Meridian's GeoIP test database: a small MaxMind DB
// in the GeoIP2/GeoLite2 City schema with a handful of invented networks, so
// tests can read a real MMDB file without a MaxMind licence.
//
// Usage:
//
//	go run ./hack/mmdbgen -o testdata/geoip/meridian-test-city.mmdb
//
// The output is deterministic (fixed build epoch), so regenerating an
// unchanged table yields a byte-identical file. The networks are listed in
// testdata/geoip/README.md; keep that table in step with networks below.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "meridian-test-city.mmdb", "path of the database file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "mmdbgen: %v\n", err)
		os.Exit(1)
	}
}

// run builds the test database and writes it to path.
func run(path string) error {
	data, err := build(networks)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so a reader never sees a half-written database.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

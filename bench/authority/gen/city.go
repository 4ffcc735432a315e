package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// flatRecord is a record of the flat ip-location-db schema.
type flatRecord struct {
	CountryCode string  `maxminddb:"country_code"`
	Latitude    float64 `maxminddb:"latitude"`
	Longitude   float64 `maxminddb:"longitude"`
	Timezone    string  `maxminddb:"timezone"`
}

// continentOf derives a continent code from a time zone name, which is
// all the flat schema holds of it: enough for Knot's continent keys.
func continentOf(tz string) string {
	area, _, _ := strings.Cut(tz, "/")
	switch area {
	case "Africa":
		return "AF"
	case "Asia", "Indian":
		return "AS"
	case "Europe", "Atlantic", "Arctic":
		return "EU"
	case "Australia", "Pacific":
		return "OC"
	case "Antarctica":
		return "AN"
	}
	return "NA" // America/ and the rest
}

// city rewrites the flat databases in the GeoIP2-City schema.
func city(in4, in6, out string) error {
	if in4 == "" || out == "" {
		return fmt.Errorf("city: -in4 and -out are required")
	}
	start := time.Now()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              time.Now().Unix(),
		DatabaseType:            "GeoIP2-City",
		Description:             map[string]string{"en": "GeoLite2 City (ip-location-db), City schema, for bench/authority"},
		Languages:               []string{"en"},
		IPVersion:               6,
		RecordSize:              28,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return err
	}
	n := 0
	for _, path := range []string{in4, in6} {
		if path == "" {
			continue
		}
		db, err := maxminddb.Open(path)
		if err != nil {
			return err
		}
		for r := range db.Networks() {
			var rec flatRecord
			if err := r.Decode(&rec); err != nil {
				return fmt.Errorf("%s %s: %w", path, r.Prefix(), err)
			}
			if rec.Latitude == 0 && rec.Longitude == 0 {
				continue
			}
			p := r.Prefix()
			ipnet := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
			country := mmdbtype.Map{"iso_code": mmdbtype.String(rec.CountryCode)}
			err := tree.Insert(ipnet, mmdbtype.Map{
				"continent":          mmdbtype.Map{"code": mmdbtype.String(continentOf(rec.Timezone))},
				"country":            country,
				"registered_country": country,
				"location": mmdbtype.Map{
					"latitude":        mmdbtype.Float64(rec.Latitude),
					"longitude":       mmdbtype.Float64(rec.Longitude),
					"time_zone":       mmdbtype.String(rec.Timezone),
					"accuracy_radius": mmdbtype.Uint16(100),
				},
			})
			if err != nil {
				return fmt.Errorf("insert %s: %w", p, err)
			}
			n++
		}
		db.Close()
	}
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := tree.WriteTo(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen city: %d networks in %v\n", n, time.Since(start).Round(time.Second))
	return os.Rename(out+".tmp", out)
}

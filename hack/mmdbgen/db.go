package main

import (
	"bytes"
	"fmt"
	"net"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// network is one record of the test database.
type network struct {
	CIDR          string  // network, e.g. "27.0.0.0/16"
	City          string  // English city name; "" = no city record
	Country       string  // ISO 3166-1 alpha-2 code
	CountryName   string  // English country name
	Continent     string  // two-letter continent code
	ContinentName string  // English continent name
	Lat, Lon      float64 // degrees; ignored when NoLocation is set
	NoLocation    bool    // true: the record carries no location at all
}

// buildEpoch fixes the database build time (2026-01-01T00:00:00Z) so the
// output does not change between runs.
const buildEpoch = 1767225600

// networks is the content of testdata/geoip/meridian-test-city.mmdb. A longer
// network listed after a shorter one that contains it replaces that part.
var networks = []network{
	{"27.0.0.0/16", "Taipei", "TW", "Taiwan", "AS", "Asia", 25.0330, 121.5654, false},
	{"36.0.0.0/16", "Tokyo", "JP", "Japan", "AS", "Asia", 35.6762, 139.6503, false},
	{"43.0.0.0/16", "Singapore", "SG", "Singapore", "AS", "Asia", 1.3521, 103.8198, false},
	{"24.0.0.0/16", "Chicago", "US", "United States", "NA", "North America", 41.8781, -87.6298, false},
	{"24.0.128.0/24", "New York", "US", "United States", "NA", "North America", 40.7128, -74.0060, false},
	{"63.0.0.0/16", "Los Angeles", "US", "United States", "NA", "North America", 34.0522, -118.2437, false},
	{"81.0.0.0/16", "Paris", "FR", "France", "EU", "Europe", 48.8566, 2.3522, false},
	{"85.0.0.0/16", "Frankfurt", "DE", "Germany", "EU", "Europe", 50.1109, 8.6821, false},
	{"41.0.0.0/16", "Johannesburg", "ZA", "South Africa", "AF", "Africa", -26.2041, 28.0473, false},
	{"177.0.0.0/16", "Sao Paulo", "BR", "Brazil", "SA", "South America", -23.5505, -46.6333, false},
	{"5.0.0.0/16", "", "DE", "Germany", "EU", "Europe", 0, 0, true},
	{"2001:200::/32", "Tokyo", "JP", "Japan", "AS", "Asia", 35.6762, 139.6503, false},
	{"2600::/32", "Chicago", "US", "United States", "NA", "North America", 41.8781, -87.6298, false},
	{"2a00::/32", "Paris", "FR", "France", "EU", "Europe", 48.8566, 2.3522, false},
}

// build returns a GeoIP2-City database (IPv6 tree, IPv4 reachable through the
// usual aliases, reserved networks left empty) holding nets.
func build(nets []network) ([]byte, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:   buildEpoch,
		DatabaseType: "GeoIP2-City",
		Description:  map[string]string{"en": "Meridian test City database (invented data, tests only)"},
		Languages:    []string{"en"},
		IPVersion:    6,
		RecordSize:   24,
	})
	if err != nil {
		return nil, fmt.Errorf("new tree: %w", err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.CIDR)
		if err != nil {
			return nil, fmt.Errorf("parse %q: %w", n.CIDR, err)
		}
		if err := tree.Insert(ipnet, n.record()); err != nil {
			return nil, fmt.Errorf("insert %s: %w", n.CIDR, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write tree: %w", err)
	}
	return buf.Bytes(), nil
}

// record returns n as a City-schema map.
func (n network) record() mmdbtype.Map {
	names := func(en string) mmdbtype.Map {
		return mmdbtype.Map{"en": mmdbtype.String(en)}
	}
	country := mmdbtype.Map{
		"iso_code": mmdbtype.String(n.Country),
		"names":    names(n.CountryName),
	}
	rec := mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String(n.Continent), "names": names(n.ContinentName)},
		"country":            country,
		"registered_country": country,
	}
	if n.City != "" {
		rec["city"] = mmdbtype.Map{"names": names(n.City)}
	}
	if !n.NoLocation {
		rec["location"] = mmdbtype.Map{
			"latitude":        mmdbtype.Float64(n.Lat),
			"longitude":       mmdbtype.Float64(n.Lon),
			"accuracy_radius": mmdbtype.Uint16(50),
		}
	}
	return rec
}

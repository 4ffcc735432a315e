package geo

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRegionTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range regionTable {
		if seen[r.name] {
			t.Errorf("region %q listed twice", r.name)
		}
		seen[r.name] = true
		if r.name != strings.ToLower(strings.TrimSpace(r.name)) || r.name == "" {
			t.Errorf("region name %q is not trimmed lower case", r.name)
		}
		if math.IsNaN(r.lat) || math.IsNaN(r.lon) || r.lat < -90 || r.lat > 90 || r.lon < -180 || r.lon > 180 {
			t.Errorf("region %q has invalid coordinates %v, %v", r.name, r.lat, r.lon)
		}
		if r.lat == 0 && r.lon == 0 {
			t.Errorf("region %q is at 0,0", r.name)
		}
	}
	if n := len(regionTable); n < 130 {
		t.Errorf("region table has %d entries, want at least 130", n)
	}
}

func TestRegion(t *testing.T) {
	tests := []struct {
		name   string
		want   Point
		wantOK bool
	}{
		{"asia-east1", Point{24.05, 120.52}, true},
		{"us-central1", Point{41.26, -95.86}, true},
		{"europe-west1", Point{50.45, 3.82}, true},
		{"europe-west4", Point{53.44, 6.83}, true},
		{"ap-northeast-1", tokyo, true},
		{"eu-west-1", Point{53.35, -6.26}, true},
		{"us-gov-west-1", Point{45.84, -119.70}, true},
		{"sa-east-1", saoPaulo, true},
		{"westeurope", Point{52.37, 4.90}, true},
		{"southeastasia", singapore, true},
		{"australiaeast", sydney, true},
		{"Asia-East1", Point{}, false},
		{" asia-east1", Point{}, false},
		{"mars-north1", Point{}, false},
		{"", Point{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Region(tt.name)
			if ok != tt.wantOK {
				t.Fatalf("Region(%q) ok = %v, want %v", tt.name, ok, tt.wantOK)
			}
			// Spot checks are city-level: within 50 km of where we expect.
			if ok && Distance(got, tt.want) > 50 {
				t.Errorf("Region(%q) = %s, want near %s", tt.name, pointString(got), pointString(tt.want))
			}
		})
	}
}

func TestRegions(t *testing.T) {
	names := Regions()
	if len(names) != len(regionTable) {
		t.Fatalf("Regions() has %d names, table has %d", len(names), len(regionTable))
	}
	if !slices.IsSorted(names) {
		t.Error("Regions() is not sorted")
	}
	for _, want := range []string{"us-central1", "us-east-1", "eastus", "asia-east1", "ap-southeast-7", "us-gov-east-1"} {
		if _, found := slices.BinarySearch(names, want); !found {
			t.Errorf("Regions() lacks %q", want)
		}
	}
	names[0] = "changed"
	if Regions()[0] == "changed" {
		t.Error("Regions() returns shared storage")
	}
}

func TestRegionDistancePlausible(t *testing.T) {
	tests := []struct {
		a, b     string
		min, max float64 // km
	}{
		{"us-central1", "europe-west1", 6800, 7300},
		{"asia-east1", "ap-east-2", 100, 200},             // Changhua to Taipei
		{"us-east-1", "us-east4", 0, 10},                  // both Ashburn
		{"europe-west3", "germanywestcentral", 0, 10},     // both Frankfurt
		{"australia-southeast1", "ap-southeast-2", 0, 10}, // both Sydney
		{"us-west1", "us-west-2", 100, 150},               // The Dalles to Boardman
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			a, okA := Region(tt.a)
			b, okB := Region(tt.b)
			if !okA || !okB {
				t.Fatalf("missing region: %s %v, %s %v", tt.a, okA, tt.b, okB)
			}
			if d := Distance(a, b); d < tt.min || d > tt.max {
				t.Errorf("Distance(%s, %s) = %.0f km, want %.0f..%.0f", tt.a, tt.b, d, tt.min, tt.max)
			}
		})
	}
}

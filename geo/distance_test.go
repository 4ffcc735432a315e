package geo

import (
	"math"
	"testing"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		name string
		a, b Point
		want float64 // km, from the spherical law of cosines (same radius)
	}{
		{"same point", paris, paris, 0},
		{"paris-london", paris, london, 343.6},
		{"new york-los angeles", newYork, losAngeles, 3935.8},
		{"taipei-tokyo", taipei, tokyo, 2094.7},
		{"quarter meridian", Point{0, 0}, Point{90, 0}, math.Pi / 2 * earthRadiusKm},
		{"antipodes", Point{0, 0}, Point{0, 180}, math.Pi * earthRadiusKm},
		{"across the antimeridian", Point{0, 179.5}, Point{0, -179.5}, 111.2},
		{"pole to pole", Point{90, 0}, Point{-90, 0}, math.Pi * earthRadiusKm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Distance(tt.a, tt.b)
			if math.Abs(got-tt.want) > 0.001*tt.want+0.1 {
				t.Errorf("Distance(%s, %s) = %.1f km, want %.1f km", pointString(tt.a), pointString(tt.b), got, tt.want)
			}
			if back := Distance(tt.b, tt.a); math.Abs(back-got) > 1e-9 {
				t.Errorf("Distance is not symmetric: %f and %f", got, back)
			}
		})
	}
}

package geo

import (
	"math/rand/v2"
	"testing"
)

// TestChord2OrdersLikeDistance checks that Chord2 and Distance order random
// pairs of places the same way.
func TestChord2OrdersLikeDistance(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := func() Point { return Point{Lat: r.Float64()*180 - 90, Lon: r.Float64()*360 - 180} }
	for range 10000 {
		c, a, b := p(), p(), p()
		byDist := Distance(c, a) < Distance(c, b)
		byChord := Chord2(c.Vector(), a.Vector()) < Chord2(c.Vector(), b.Vector())
		if byDist != byChord && abs(Distance(c, a)-Distance(c, b)) > 1e-6 {
			t.Fatalf("from %v: %v vs %v ordered differently", c, a, b)
		}
	}
	if d := Chord2(Point{}.Vector(), Point{}.Vector()); d != 0 {
		t.Errorf("Chord2 of a place with itself = %v, want 0", d)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

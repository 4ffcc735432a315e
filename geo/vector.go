package geo

import "math"

// Vec3 is a point on the unit sphere. Comparing squared chord lengths
// between vectors orders places exactly as great-circle distance does, with
// no trigonometry per comparison: the answer path converts the client once
// and compares it with clusters converted when the snapshot was built.
type Vec3 struct{ X, Y, Z float64 }

// Vector returns p on the unit sphere.
func (p Point) Vector() Vec3 {
	lat, lon := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	cl := math.Cos(lat)
	return Vec3{X: cl * math.Cos(lon), Y: cl * math.Sin(lon), Z: math.Sin(lat)}
}

// Chord2 returns the squared straight-line distance between a and b: 0 for
// the same place, 4 for antipodes, and growing with great-circle distance.
func Chord2(a, b Vec3) float64 {
	dx, dy, dz := a.X-b.X, a.Y-b.Y, a.Z-b.Z
	return dx*dx + dy*dy + dz*dz
}

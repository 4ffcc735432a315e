package geo

import "math"

// Point is a place on Earth in degrees.
type Point struct{ Lat, Lon float64 }

// earthRadiusKm is the mean Earth radius (IUGG), in kilometres.
const earthRadiusKm = 6371.0088

// Distance returns the great-circle (haversine) distance in kilometres
// (mean Earth radius 6371.0088 km) between a and b.
func Distance(a, b Point) float64 {
	const rad = math.Pi / 180
	lat1, lat2 := a.Lat*rad, b.Lat*rad
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	sLat, sLon := math.Sin(dLat/2), math.Sin(dLon/2)
	h := sLat*sLat + math.Cos(lat1)*math.Cos(lat2)*sLon*sLon
	// Rounding can push h a hair above 1 for antipodal points.
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(math.Min(h, 1)))
}

// Package geo places DNS clients and clusters on the map.
//
// A Locator answers "where is this client?" from a GeoIP2/GeoLite2 City MMDB
// file, through an LRU cache keyed by client network, and says for how wide
// a network the answer holds (the RFC 7871 scope). Region gives the
// coordinates of a cloud region name (GCP, AWS, Azure), so a cluster's
// topology.kubernetes.io/region label places it on the map, and Distance
// compares the two.
//
// # How Locate works
//
// The client is the ECS source prefix, or the query's source address as a
// /32 or /128. IPv4-mapped IPv6 addresses are unmapped first, and the address
// is masked to its prefix length. The cache key is the client network cut to
// at most /24 (IPv4) or /56 (IPv6), so one cache entry serves a whole
// subnet and never a single address. On a miss the first address of the key
// is looked up in the database, which also reports the prefix length of the
// database network that holds it (mmdbBits, the network of the empty node
// when the address is not in the database). The scope follows:
//
//	client     key   mmdb network   scope  why
//	/16 ECS    /16   /24            24     the answer holds for the longer /24 (RFC 7871 7.2.1)
//	/16 ECS    /16   /8             8      the whole /8 gets the same answer
//	/32 addr   /24   /16            16     the /16 gets the same answer
//	/32 addr   /24   /28            24     cut to the key: the cache answers the /24 with it
//	/128 addr  /56   /32            32     the /32 gets the same answer
//	/0 ECS     -     -              0      a /0 source carries no location
//
// In short: scope = mmdbBits, except that when the key was cut shorter than
// the client, the scope is never longer than the key. Without a database
// every client is unknown with scope 0.
//
// # Reloading
//
// The database file is read into memory, so rewriting it in place cannot
// disturb lookups in flight. Reload (or the poller Start runs) reads the file
// again when its modification time or size changed, swaps the new database
// in, and purges the cache; on failure the old database stays in use.
//
//go:generate go run ../hack/mmdbgen -o ../testdata/geoip/meridian-test-city.mmdb
package geo

import "errors"

var (
	// ErrOpen is returned (wrapped) when the database file cannot be read
	// or is not a City database.
	ErrOpen = errors.New("geo: cannot open geoip database")
	// ErrConfig is returned (wrapped) by New for an invalid Config.
	ErrConfig = errors.New("geo: invalid config")
	// ErrMetrics is returned (wrapped) by New when a metric cannot be
	// registered for a reason other than being registered already.
	ErrMetrics = errors.New("geo: cannot register metrics")
	// ErrStopped is returned by Reload after Stop.
	ErrStopped = errors.New("geo: locator stopped")
)

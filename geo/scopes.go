package geo

import (
	"iter"
	"net/netip"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Network is one network of the database and where its clients are.
type Network struct {
	Prefix netip.Prefix
	Point  Point
	Known  bool // false: no coordinates; its clients order as unknown
}

// ScopeTable widens located clients' networks (package widen builds one).
type ScopeTable interface {
	// Widen returns the widest network holding a in which every client
	// sees the federation's locations in one order by distance; ok false
	// when the table does not cover a's family.
	Widen(a netip.Addr) (netip.Prefix, bool)
}

// Widener builds the ScopeTable of the locations locs over the networks
// of a database.
type Widener func(locs []Point, networks iter.Seq[Network]) ScopeTable

// widened is a ScopeTable in use: for one database and one set of
// locations.
type widened struct {
	db    *database
	locs  []Point
	table ScopeTable
}

// SetLocations gives the Locator the federation's distinct locations
// (the clusters' points: model.Snapshot.Locations, whose identity names
// the set), so that, with a Widener configured, LocateIn widens each
// client's scope to the widest network whose clients all see them in the
// same order: an answer that depends on the client's place only through
// that order (and ties hashed on Location.Net) is the same for all of
// them. The table is built in the background, again whenever the
// locations or the database change; until it is ready LocateIn gives the
// database's networks, as Locate does. Cheap when nothing changed.
func (l *Locator) SetLocations(locs []Point) {
	if l.widener == nil {
		return
	}
	l.wideMu.Lock()
	defer l.wideMu.Unlock()
	if l.wantSet && sameSlice(locs, l.wantLocs) {
		return
	}
	l.wantLocs, l.wantSet = locs, true
	l.kickWiden()
}

// sameSlice reports whether a and b are the same slice (not only equal).
func sameSlice(a, b []Point) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Widened reports whether LocateIn widens scopes for locs now: the table
// for that set and the database in use is built.
func (l *Locator) Widened(locs []Point) bool {
	w := l.wide.Load()
	return w != nil && len(locs) > 0 && sameSlice(w.locs, locs) && w.db == l.cur.Load()
}

// ScopesSettled reports whether LocateIn gives for locs the scopes it
// will keep giving: there is nothing to widen (no Widener, no database,
// no locations), or the table for locs and the database in use is built.
// The plugin's readiness waits for it once, at startup, so that the first
// answers carry the scopes later ones will.
func (l *Locator) ScopesSettled(locs []Point) bool {
	return l.widener == nil || l.cur.Load() == nil || len(locs) == 0 || l.Widened(locs)
}

// LocateIn is Locate for an answer ranked against locs (a snapshot's
// Locations): with the scope widened when the table in use was built for
// exactly that set and for the database in use.
func (l *Locator) LocateIn(client netip.Prefix, locs []Point) Location {
	loc, key := l.locate(client)
	if !key.IsValid() {
		return loc
	}
	if !l.Widened(locs) {
		return loc
	}
	if n, ok := l.wide.Load().table.Widen(key.Addr()); ok && n.Bits() < loc.Scope {
		loc.Scope, loc.Net = n.Bits(), n.Masked()
	}
	return loc
}

// kickWiden starts a build unless one runs; the running one builds again
// when it sees the wanted locations or the database changed. wideMu is
// held.
func (l *Locator) kickWiden() {
	if l.building || !l.wantSet {
		return
	}
	l.building = true
	go l.buildWidened()
}

// buildWidened builds tables until the latest is for the wanted locations
// and the database in use.
func (l *Locator) buildWidened() {
	for {
		l.wideMu.Lock()
		locs := l.wantLocs
		l.wideMu.Unlock()
		// The read lock is held across the walk (3-5 s over GeoLite2
		// City, both families): lookups go on, a reload or Stop waits
		// for it.
		l.mu.RLock()
		db := l.db
		var w *widened
		start := time.Now()
		if db != nil && len(locs) > 0 {
			w = &widened{db: db, locs: locs, table: l.widener(locs, db.networks())}
		}
		l.mu.RUnlock()
		l.wide.Store(w)
		l.wideMu.Lock()
		if sameSlice(locs, l.wantLocs) && (w == nil || l.cur.Load() == w.db) {
			l.building = false
			l.wideMu.Unlock()
			if w != nil {
				l.log.Infof("geoip: ECS scopes widened for %d locations (table built in %v)", len(locs), time.Since(start).Round(time.Millisecond))
			}
			return
		}
		l.wideMu.Unlock()
	}
}

// networks walks the database's networks for the scope table
// (networksOf, with the networks that hold no data).
func (d *database) networks() iter.Seq[Network] { return networksOf(d.mm, true) }

// Networks opens the MMDB file at path and returns its networks that hold
// data, IPv4 then IPv6, in address order, with their coordinates; close
// releases the file. For tools that report on scopes.
func Networks(path string) (nets iter.Seq[Network], close func() error, err error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return networksOf(r, false), r.Close, nil
}

// networksOf walks r's networks in address order, with their
// coordinates: those of the IPv4 subtree of an IPv6 database as IPv4.
// With empty, it also walks the networks that hold no data (as Known
// false: Locate finds no place there either), so that the only IPv6
// space the walk leaves out is the database's aliases of its IPv4 subtree
// (IPv4-mapped, 6to4, Teredo), which the walk skips.
func networksOf(r *maxminddb.Reader, empty bool) iter.Seq[Network] {
	var opts []maxminddb.NetworksOption
	if empty {
		opts = append(opts, maxminddb.IncludeNetworksWithoutData())
	}
	return func(yield func(Network) bool) {
		for res := range r.Networks(opts...) {
			p := res.Prefix()
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			var rec cityLocation
			if res.Decode(&rec) != nil {
				continue
			}
			n := Network{Prefix: p}
			if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
				n.Known, n.Point = true, Point{Lat: *rec.Location.Latitude, Lon: *rec.Location.Longitude}
			}
			if !yield(n) {
				return
			}
		}
	}
}

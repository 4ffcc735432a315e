package geo

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/logging"
)

// Location is where a client is, as far as the database knows.
type Location struct {
	// Point is the client's position; the zero Point unless Known.
	Point Point
	// Known is false when the client is not in the database, its record has
	// no coordinates, or there is no database.
	Known bool
	// Scope is the RFC 7871 scope prefix length this location holds for:
	// every address in Net gets the same Location. It may be shorter or
	// longer than the client's prefix; see the package documentation.
	Scope int
	// Net is the client network masked to Scope bits, a stable key for
	// tie-breaking. It is the zero Prefix only for an invalid client.
	Net netip.Prefix
}

// Config says which database a Locator reads and how.
type Config struct {
	// Path is the MMDB file in the GeoIP2/GeoLite2 City schema. Empty means
	// no database: every client is unknown, with scope 0.
	Path string
	// CacheSize is the number of client networks the LRU cache holds.
	// Zero means 65536; negative is an error.
	CacheSize int
	// Reload is how often the goroutine Start runs checks Path for a
	// changed file (modification time or size). Zero means never.
	Reload time.Duration
	// Registerer receives the Locator's metrics. Nil means no metrics.
	Registerer prometheus.Registerer
	// Logger receives load, reload and error messages, never one per query.
	// Nil discards them.
	Logger logging.Logger
	// Widen, if set, builds the table of widened ECS scopes for the
	// locations SetLocations gives (package widen's Build). Nil keeps the
	// database's networks as the scopes.
	Widen Widener
}

// defaultCacheSize is the cache size a zero Config.CacheSize asks for.
const defaultCacheSize = 65536

// Cache keys never name a single address: clients are cut to at most these
// prefix lengths.
const (
	maxKeyBits4 = 24
	maxKeyBits6 = 56
)

// Locator finds client locations in a GeoIP database through a cache. It is
// safe for concurrent use.
type Locator struct {
	path     string
	interval time.Duration
	log      logging.Logger
	m        *metrics
	cache    *lru.Cache[netip.Prefix, Location] // nil when path is ""

	// mu guards db. A miss holds it for reading across the database lookup
	// and the cache fill, so a swap (which holds it for writing while it
	// purges the cache) never leaves an entry from the old database behind
	// and never closes a reader in use. Hits do not take it.
	mu  sync.RWMutex
	db  *database                // nil: no database, or stopped
	cur atomic.Pointer[database] // db, read without the lock

	// The widened scopes (scopes.go): the table in use, and what the
	// next build is for.
	widener  Widener
	wide     atomic.Pointer[widened]
	wideMu   sync.Mutex
	wantLocs []Point
	wantSet  bool
	building bool

	reloadMu sync.Mutex // serializes Reload and Stop; guards the fields below
	stamp    fileStamp  // the loaded file's modification time and size
	stopped  bool
	loaded   time.Time // when the database in use was loaded
	lastErr  error     // the latest reload's error, nil once one succeeds
	errAt    time.Time // when lastErr came
	errStamp fileStamp // the file version lastErr was about; zero when it could not be read

	pollMu      sync.Mutex // guards the poller's state below
	pollStarted bool
	pollStopped bool
	pollStop    chan struct{}
	pollDone    chan struct{}
}

// Info describes the database a Locator answers from, for the status page.
type Info struct {
	Path string // "" when there is no database
	// Type and Built are the database's metadata; Size its bytes; Loaded
	// when it was read. All zero when no database is open.
	Type   string
	Built  time.Time
	Size   int64
	Loaded time.Time
	// ReloadError is the latest reload's error, "" once one succeeds, and
	// ReloadErrorAt when it came: the database above is still in use.
	ReloadError   string
	ReloadErrorAt time.Time
}

// Info returns what l answers from; the zero Info for a nil Locator.
func (l *Locator) Info() Info {
	if l == nil {
		return Info{}
	}
	in := Info{Path: l.path}
	l.reloadMu.Lock()
	in.Loaded = l.loaded
	if l.lastErr != nil {
		in.ReloadError, in.ReloadErrorAt = l.lastErr.Error(), l.errAt
	}
	l.reloadMu.Unlock()
	l.mu.RLock()
	if db := l.db; db != nil {
		md := db.r.Metadata()
		in.Type, in.Built, in.Size = md.DatabaseType, md.BuildTime().UTC(), db.size
	}
	l.mu.RUnlock()
	if in.Type == "" {
		in.Loaded = time.Time{}
	}
	return in
}

// database is one opened MMDB file: geoip2's reader, which checked its
// type, and maxminddb's over the same bytes, which reads only the
// coordinates on a lookup (a whole City record allocates every name in
// every language).
type database struct {
	r      *geoip2.Reader
	mm     *maxminddb.Reader
	size   int64
	warned atomic.Bool // a lookup error has been logged for this database
}

// New returns a Locator for cfg, with the database opened and read once.
// Errors wrap ErrOpen (unreadable file, not a City database), ErrConfig or
// ErrMetrics.
func New(cfg Config) (*Locator, error) {
	size := cfg.CacheSize
	if size == 0 {
		size = defaultCacheSize
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: negative cache size %d", ErrConfig, size)
	}
	if cfg.Reload < 0 {
		return nil, fmt.Errorf("%w: negative reload interval %s", ErrConfig, cfg.Reload)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	l := &Locator{
		path:     cfg.Path,
		interval: cfg.Reload,
		log:      cfg.Logger,
		m:        m,
		widener:  cfg.Widen,
		pollStop: make(chan struct{}),
		pollDone: make(chan struct{}),
	}
	l.log = logging.OrNop(l.log)
	if cfg.Path == "" {
		return l, nil
	}
	if l.cache, err = lru.New[netip.Prefix, Location](size); err != nil {
		return nil, fmt.Errorf("%w: cache: %w", ErrConfig, err)
	}
	db, stamp, err := openDatabase(cfg.Path)
	if err != nil {
		return nil, err
	}
	l.db, l.stamp, l.loaded = db, stamp, time.Now()
	l.cur.Store(db)
	l.log.Infof("geoip: loaded %s (%s)", cfg.Path, db)
	return l, nil
}

// Locate returns the location of client: an ECS source prefix
// (address/SOURCE PREFIX-LENGTH), or the query's source address as a /32 or
// /128. A /0 client carries no location: unknown, scope 0. An invalid
// client gives the zero Location. Locate does not allocate on a cache hit.
func (l *Locator) Locate(client netip.Prefix) Location {
	loc, _ := l.locate(client)
	return loc
}

// locate is Locate, with the cache key it looked up (invalid when the
// client is unknown without a lookup).
func (l *Locator) locate(client netip.Prefix) (Location, netip.Prefix) {
	client, ok := normalize(client)
	if !ok {
		l.m.unknown.Inc()
		return Location{}, netip.Prefix{}
	}
	if l.path == "" || client.Bits() == 0 {
		l.m.unknown.Inc()
		return unknownEverywhere(client.Addr()), netip.Prefix{}
	}
	key := cacheKey(client)
	loc, hit := l.cache.Get(key)
	if hit {
		l.m.hits.Inc()
	} else {
		l.m.misses.Inc()
		loc = l.miss(key, key.Bits() < client.Bits())
	}
	if !loc.Known {
		l.m.unknown.Inc()
	}
	return loc, key
}

// miss looks key up in the database and caches the result.
func (l *Locator) miss(key netip.Prefix, truncated bool) Location {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.db == nil { // stopped
		return unknownEverywhere(key.Addr())
	}
	loc, err := l.db.lookup(key, truncated)
	if err != nil && l.db.warned.CompareAndSwap(false, true) {
		l.log.Warningf("geoip: lookup failed, client unknown (further lookup errors with this database are not logged): %v", err)
	}
	l.cache.Add(key, loc)
	l.m.entries.Set(float64(l.cache.Len()))
	return loc
}

// lookup finds key's first address in the database and applies the scope
// rule: the prefix length of the database network holding it, cut to
// key.Bits() when the key was cut shorter than the client. On error the
// client is unknown with the key's own scope.
func (d *database) lookup(key netip.Prefix, truncated bool) (Location, error) {
	res := d.mm.Lookup(key.Addr())
	var rec cityLocation
	if err := res.Decode(&rec); err != nil {
		return Location{Scope: key.Bits(), Net: key}, fmt.Errorf("look up %s: %w", key.Addr(), err)
	}
	scope := networkBits(res.Prefix(), key)
	if truncated && scope > key.Bits() {
		scope = key.Bits()
	}
	loc := Location{Scope: scope, Net: netip.PrefixFrom(key.Addr(), scope).Masked()}
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		loc.Known = true
		loc.Point = Point{Lat: *rec.Location.Latitude, Lon: *rec.Location.Longitude}
	}
	return loc, nil
}

// cityLocation is what a lookup reads of a City record: the coordinates,
// present or not (geoip2's City.Location.HasCoordinates).
type cityLocation struct {
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// networkBits returns the prefix length of the database network that holds
// key's address. An IPv4 address that falls in an empty IPv6 node above the
// database's IPv4 subtree comes back with an IPv6 network: then nothing in
// IPv4 is in the database, and the answer holds for all of it (0).
func networkBits(network, key netip.Prefix) int {
	switch {
	case !network.IsValid():
		return key.Bits()
	case network.Addr().Is4() != key.Addr().Is4():
		return 0
	default:
		return network.Bits()
	}
}

// normalize unmaps an IPv4-mapped IPv6 client and masks the address to the
// prefix length.
func normalize(client netip.Prefix) (netip.Prefix, bool) {
	if !client.IsValid() {
		return netip.Prefix{}, false
	}
	addr, bits := client.Addr(), client.Bits()
	if addr.Is4In6() {
		addr, bits = addr.Unmap(), max(bits-96, 0)
	}
	return netip.PrefixFrom(addr, bits).Masked(), true
}

// cacheKey cuts a normalized client to at most /24 (IPv4) or /56 (IPv6).
func cacheKey(client netip.Prefix) netip.Prefix {
	limit := maxKeyBits6
	if client.Addr().Is4() {
		limit = maxKeyBits4
	}
	if client.Bits() <= limit {
		return client
	}
	return netip.PrefixFrom(client.Addr(), limit).Masked()
}

// unknownEverywhere is the answer that holds for every client of addr's
// family: unknown, scope 0.
func unknownEverywhere(addr netip.Addr) Location {
	return Location{Net: netip.PrefixFrom(addr, 0).Masked()}
}

// String describes the database for logs.
func (d *database) String() string {
	md := d.r.Metadata()
	return fmt.Sprintf("%s, built %s, %d bytes",
		md.DatabaseType, md.BuildTime().UTC().Format(time.RFC3339), d.size)
}

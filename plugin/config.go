package meridian

import (
	"net/netip"
	"time"

	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/model"
)

// Config is what the Corefile says. parse fills it; nothing in it runs.
type Config struct {
	// Zones are the zones served, fully qualified and lower case. Empty in
	// the Corefile means the server block's zones.
	Zones []string
	// Federation is the federation name, the label before "svc" in every
	// service name.
	Federation string
	// Manifests is the manifest folder (one subfolder per member cluster);
	// "" means no manifest source.
	Manifests string
	// ManifestInterval is how often the manifest folder is checked; 0 means
	// the source's default.
	ManifestInterval time.Duration
	// GeoIP is the City MMDB path; "" means no database, every client is of
	// unknown location.
	GeoIP string
	// GeoIPReload is how often the MMDB file is checked for a new version;
	// 0 means never.
	GeoIPReload time.Duration
	// GeoIPCache is the number of client networks the location cache holds.
	GeoIPCache int
	// Nameservers are the apex NS records, with their glue addresses.
	Nameservers []Nameserver
	// Hostmaster is the SOA RNAME, as a domain name.
	Hostmaster string
	// TTL is the TTL of positive answers, in seconds.
	TTL uint32
	// NegativeTTL is the SOA MINIMUM and so the TTL of negative answers.
	NegativeTTL uint32
	// Policy is how the global level chooses shards.
	Policy answer.Policy
	// Build says how snapshots are built: minimum ready endpoints and
	// per-cluster placement overrides.
	Build model.Options
	// ShardMetrics turns the per-shard gauges on (the default) or off.
	ShardMetrics bool
}

// Nameserver is one NS record at the apex and its glue.
type Nameserver struct {
	Name  string       // fully qualified, lower case
	Addrs []netip.Addr // glue; served as A/AAAA when Name is in the zone
}

// Defaults of Config.
const (
	defaultTTL         = 30
	defaultNegativeTTL = 30
	defaultGeoIPCache  = 65536
	defaultGeoIPReload = time.Minute
)

func newConfig() *Config {
	return &Config{
		TTL:          defaultTTL,
		NegativeTTL:  defaultNegativeTTL,
		GeoIPCache:   defaultGeoIPCache,
		Policy:       answer.Policy{Shards: 1},
		Build:        model.Options{MinReady: 1, Overrides: map[string]model.Override{}},
		ShardMetrics: true,
	}
}

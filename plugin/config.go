package meridian

import (
	"net/netip"
	"time"

	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
	"github.com/meridian-dns/meridian/plugin/resolver"
	"github.com/meridian-dns/meridian/plugin/rrl"
	"github.com/meridian-dns/meridian/plugin/status"
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
	// Kubeconfigs are kubeconfig files whose contexts are member clusters.
	Kubeconfigs []string
	// Contexts limits the contexts used and names their clusters (context
	// to cluster name, "" for the context's own name); empty means every
	// context of every file.
	Contexts map[string]string
	// InCluster is the cluster name of the cluster Meridian runs in, read
	// with the pod's service account; "" means none.
	InCluster string
	// Selector is the label selector of federated Services; "" means
	// federation.meridian.dev/name=<Federation>.
	Selector string
	// Namespaces limits the namespaces read; empty means all.
	Namespaces []string
	// StaleAfter, DownAfter and StartupTimeout tune cluster liveness (see
	// package kube); 0 means its default.
	StaleAfter     time.Duration
	DownAfter      time.Duration
	StartupTimeout time.Duration
	// GeoIP is the City MMDB path; "" means no database, every client is of
	// unknown location.
	GeoIP string
	// GeoIPReload is how often the MMDB file is checked for a new version;
	// 0 means never.
	GeoIPReload time.Duration
	// GeoIPCache is the number of client networks the location cache holds.
	GeoIPCache int
	// WidenScopes widens ECS scopes to the widest network whose clients
	// see the clusters' locations in one order (geo.Locator.LocateIn,
	// package widen); false keeps the database's networks. The Corefile's
	// default (ecs_scope widened) sets it; the authoritative role reads it.
	WidenScopes bool
	// Authority holds the settings of the authoritative role: NS records,
	// hostmaster, TTLs, answer settings. Its Federation is set by New.
	Authority authority.Config
	// Build says how snapshots are built: the default policy of every
	// service (shards, capacity thresholds, spill, rise/fall, probe) and
	// per-cluster placement overrides.
	Build model.Options
	// PassiveInterval is the sampling interval that passive rise/fall
	// thresholds count in (see health.Passive); 0 means its default.
	PassiveInterval time.Duration
	// ProbeConcurrency is the most probes in flight at once; 0 means the
	// prober's default.
	ProbeConcurrency int
	// ProbeNetworks are the networks probes may connect to; empty means
	// any.
	ProbeNetworks []netip.Prefix
	// ShardMetrics turns the per-shard gauges on (the default) or off.
	ShardMetrics bool
	// Role is what this instance is: the authoritative server of the
	// federated zone (the default) or a member cluster's local-first
	// resolver.
	Role Role
	// Resolver holds the settings of the resolver role.
	Resolver resolver.Config
	// Status is the status listener (status page and explain); nil means
	// none.
	Status *status.Config
	// FastPath is the number of sockets of the UDP fast path on each of
	// the block's addresses: 0 is none (the default), -1 one per CPU the
	// process may use (GOMAXPROCS).
	FastPath int
	// FastPathRcvbuf is the receive buffer, in bytes, asked for each
	// fast path socket (the kernel caps it at net.core.rmem_max); 0
	// leaves the kernel's default.
	FastPathRcvbuf int
	// RRL is response rate limiting of the authoritative role's UDP
	// replies; nil means none (the default).
	RRL *rrl.Config
	// MaxTCPConnections caps the concurrent TCP connections on each of
	// the block's addresses (package tcplimit): 0 is no cap (the
	// default: CoreDNS's own socket, which has none).
	MaxTCPConnections int
}

// Role is what a Meridian instance serves.
type Role uint8

// The roles.
const (
	// Authoritative answers the federated zone from every member cluster.
	Authoritative Role = iota
	// Resolver answers pods of one member cluster: its own shard first,
	// the authoritative servers' answer otherwise.
	Resolver
)

// String returns the role as written in the Corefile.
func (r Role) String() string {
	if r == Resolver {
		return "resolver"
	}
	return "authoritative"
}

// kubeZone is the zone of the kube-dns form of federated names,
// "<federation>.svc.<cluster domain>".
func (c *Config) kubeZone() string { return c.Resolver.KubeZone(c.Federation) }

// FederationLabel is the Service label that, by default, makes a Service
// part of the federation named by its value.
const FederationLabel = "federation.meridian.dev/name"

// selector returns the label selector of federated Services.
func (c *Config) selector() string {
	if c.Selector != "" {
		return c.Selector
	}
	return FederationLabel + "=" + c.Federation
}

// Defaults of Config.
const (
	defaultTTL         = 30
	defaultDegradedTTL = 5
	defaultNegativeTTL = 30
	defaultGeoIPCache  = 65536
	defaultGeoIPReload = time.Minute

	defaultUpstreamTimeout = 750 * time.Millisecond
	defaultUpstreamTotal   = 1500 * time.Millisecond
	defaultUpstreamCache   = 10000
	defaultClusterDomain   = "cluster.local."
	defaultLocalTTL        = 5
	// defaultFastPathRcvbuf holds 2,520 queries a socket, where the
	// kernel's default holds 256: the soak lost none outside an API
	// server's restart with it, and 4 MiB queued bursts for up to 1.6 s
	// (docs/reliability.md, "The fast path's receive buffer").
	defaultFastPathRcvbuf = 1 << 20
)

func newConfig() *Config {
	return &Config{
		Authority: authority.Config{
			TTL:         defaultTTL,
			DegradedTTL: defaultDegradedTTL,
			NegativeTTL: defaultNegativeTTL,
		},
		GeoIPCache:     defaultGeoIPCache,
		WidenScopes:    true,
		Build:          model.Options{Defaults: policy.Default(), Overrides: map[string]model.Override{}},
		ShardMetrics:   true,
		FastPathRcvbuf: defaultFastPathRcvbuf,
		Resolver: resolver.Config{
			UpstreamTimeout: defaultUpstreamTimeout,
			UpstreamTotal:   defaultUpstreamTotal,
			UpstreamCache:   defaultUpstreamCache,
			ClusterDomain:   defaultClusterDomain,
			LocalTTL:        defaultLocalTTL,
		},
	}
}

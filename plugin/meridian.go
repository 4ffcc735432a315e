// Package meridian is a CoreDNS plugin that answers a federated zone with
// the closest healthy shard of services that run in several Kubernetes
// clusters, judged by the client's location (GeoIP of the EDNS Client
// Subnet or the source address) and the clusters' topology.
//
// This package is the CoreDNS face: it parses the Corefile, starts and
// stops the parts, checks each query and hands it to the role chosen at
// setup (package authority or package resolver), registers the metrics and
// says when it is ready. Sources (package source and below) feed the
// snapshot loop (package pipeline), which builds snapshots (package model);
// see docs/architecture.md.
package meridian

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/geo/widen"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/pipeline"
	"github.com/meridian-dns/meridian/plugin/resolver"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/kube"
	"github.com/meridian-dns/meridian/plugin/source/manifest"
	"github.com/meridian-dns/meridian/plugin/status"
)

// Errors of New.
var (
	// errNoSource is a configuration with nothing to read clusters from.
	errNoSource = errors.New("no source of member clusters: add 'manifests DIR', 'kubeconfig PATH' or 'in_cluster NAME'")
)

// Meridian is the plugin: one per server block.
type Meridian struct {
	Next plugin.Handler

	cfg     *Config
	pipe    *pipeline.Pipeline
	locator *geo.Locator
	sources []source.Source
	role    role                 // auth or res, chosen once in New
	auth    *authority.Authority // the authoritative role, or nil
	res     *resolver.Resolver   // the resolver role, or nil
	rrl     *limiter             // response rate limiting, or nil
	hist    *health.History      // transitions, for the status page
	errs    lastErrors           // the latest source error of each cluster

	// serves is set once the plugin is first ready (serving): until
	// then every query in its zones is answered SERVFAIL, Not Ready.
	serves atomic.Bool

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	status *status.Server // nil unless the Corefile asks for it
}

// role answers the queries the handler has checked, in one of the
// plugin's zones.
type role interface {
	Serve(ctx context.Context, w dns.ResponseWriter, q dnsmsg.Query)
}

// New returns a plugin for cfg. It opens the GeoIP database, so a bad path
// fails at once, but starts nothing: Start does.
func New(cfg *Config) (*Meridian, error) {
	m := &Meridian{cfg: cfg}
	if err := m.addSources(); err != nil {
		return nil, err
	}
	loc, err := geo.New(geo.Config{
		Path:       cfg.GeoIP,
		CacheSize:  cfg.GeoIPCache,
		Reload:     cfg.GeoIPReload,
		Registerer: registerer(),
		Logger:     log,
		Widen:      widener(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	return m, m.assemble(loc)
}

// widener is the locator's scope widener: package widen's for the
// authoritative role with widened scopes (the Corefile's default).
func widener(cfg *Config) geo.Widener {
	if cfg.WidenScopes && cfg.Role == Authoritative {
		return widen.Build
	}
	return nil
}

// assemble makes the snapshot loop and the role of m.cfg, answering with
// the locator loc. Sources are added apart (New), so tests can feed the
// loop's sink by hand.
func (m *Meridian) assemble(loc *geo.Locator) error {
	cfg := m.cfg
	m.locator = loc
	m.hist = health.NewHistory(0)
	build := cfg.Build
	build.Zones = cfg.Zones // the hosts of Ingresses and routes answered
	pc := pipeline.Config{
		Build:   build,
		Passive: health.PassiveConfig{Interval: cfg.PassiveInterval, Logger: log, Registerer: registerer()},
		Views:   []pipeline.View{&problems{}, &clusterSeries{}},
		Synced:  m.sourcesSynced,
		OnError: m.sourceError,
		History: m.hist,
		OnBuild: func(d time.Duration) {
			buildDuration.Observe(d.Seconds())
			if snap := m.pipe.Snapshot(); snap != nil && loc != nil {
				loc.SetLocations(snap.Locations)
			}
		},
		Logger: log,
	}
	// The one choice of role. The resolver judges its local shard by its
	// ready endpoints alone (probes test load-balancer addresses, which it
	// does not answer with) and answers with cluster IPs.
	switch cfg.Role {
	case Resolver:
		cfg.Resolver.ShardMetrics = cfg.ShardMetrics
		var err error
		if m.res, err = resolver.New(&cfg.Resolver, cfg.Federation, cfg.Zones, registerer(), log); err != nil {
			return err
		}
		m.role = m.res
		pc.Build.ClusterIPs = true
		pc.Views = append(pc.Views, m.res)
	default:
		var err error
		if m.rrl, err = newLimiter(cfg.RRL); err != nil {
			return err
		}
		cfg.Authority.Federation = cfg.Federation
		m.auth = authority.New(&cfg.Authority, m, loc, answerMetrics{})
		m.role = m.auth
		pc.Prober = &health.ProberConfig{Concurrency: cfg.ProbeConcurrency, Allow: cfg.ProbeNetworks, Logger: log, Registerer: registerer()}
	}
	m.pipe = pipeline.New(pc)
	return nil
}

// addSources makes the sources the configuration names.
func (m *Meridian) addSources() error {
	cfg := m.cfg
	sel, err := labels.Parse(cfg.selector())
	if err != nil {
		return fmt.Errorf("selector %q: %w", cfg.selector(), err)
	}
	if cfg.Manifests != "" {
		if fi, err := os.Stat(cfg.Manifests); err != nil || !fi.IsDir() {
			return fmt.Errorf("manifests %q: not a readable folder", cfg.Manifests)
		}
		m.sources = append(m.sources, manifest.New(cfg.Manifests, manifest.Options{
			Interval: cfg.ManifestInterval,
			Logger:   log,
			Selector: sel,
			OnConfig: configReporter("manifests"),
		}))
	}
	if len(cfg.Kubeconfigs) > 0 || cfg.InCluster != "" {
		src, err := kube.New(kube.Options{
			Kubeconfigs:    cfg.Kubeconfigs,
			Contexts:       cfg.Contexts,
			InCluster:      cfg.InCluster,
			Selector:       sel,
			Namespaces:     cfg.Namespaces,
			StaleAfter:     cfg.StaleAfter,
			DownAfter:      cfg.DownAfter,
			StartupTimeout: cfg.StartupTimeout,
			Logger:         log,
			OnConfig:       configReporter("kubeconfig"),
		})
		if err != nil {
			return err
		}
		m.sources = append(m.sources, src)
	}
	if len(m.sources) == 0 {
		return errNoSource
	}
	return nil
}

// Snapshot returns the current snapshot, nil before the first build (the
// authoritative role reads it through this).
func (m *Meridian) Snapshot() *model.Snapshot { return m.pipe.Snapshot() }

// Start starts the snapshot loop, the sources and the GeoIP reloader.
func (m *Meridian) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return nil
	}
	// The listener first: an address that cannot be bound fails the start
	// before anything runs.
	if c := m.cfg.Status; c != nil {
		sc := *c
		sc.Logger = log
		srv, err := status.Start(sc, m)
		if err != nil {
			return fmt.Errorf("status %s: %w", c.Addr, err)
		}
		m.status = srv
		log.Infof("status page and explain on http://%s/", srv.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Go(func() { m.pipe.Run(ctx) })
	for _, src := range m.sources {
		m.wg.Go(func() {
			if err := src.Run(ctx, m.pipe.Sink()); err != nil {
				log.Errorf("source stopped: %v", err)
			}
		})
	}
	m.wg.Go(func() { m.releaseAfterSync(ctx) })
	m.locator.Start()
	instances.add(m)
	return nil
}

// releaseAfterSync returns the memory of the first full sync to the
// operating system once the plugin is ready. A first list holds whole API
// objects until they are converted; without this the process keeps that
// peak as resident memory long after the garbage is collected.
func (m *Meridian) releaseAfterSync(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.ready() {
			debug.FreeOSMemory()
			return
		}
	}
}

// Stop stops everything Start started and waits for it, but leaves the
// last snapshot in place and the GeoIP database open (locatorGrace), so
// that queries the server still takes are answered as before: it stops
// changes, not answers.
func (m *Meridian) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	instances.remove(m)
	if m.status != nil {
		if err := m.status.Stop(m); err != nil {
			log.Warningf("status %s: %v", m.cfg.Status.Addr, err)
		}
		m.status = nil
	}
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
		m.cancel = nil
	}
	// The GeoIP database closes later: see locatorGrace.
	time.AfterFunc(locatorGrace, m.locator.Stop)
	return nil
}

// locatorGrace is how long the GeoIP database stays open after Stop. On
// SIGTERM CoreDNS runs the plugins' shutdown (Stop) before the health
// plugin's lameduck, during which the servers still answer; a database
// closed at once would answer those queries as from nowhere (the default
// region), wrongly, and caches would keep them. On a reload CoreDNS stops
// the old servers before calling Stop, so the wait costs only the open
// file for a while. A lameduck longer than this is not covered.
const locatorGrace = time.Minute

// sourceError logs and counts a problem a source reported.
func (m *Meridian) sourceError(cluster string, err error) {
	reason := errorOther
	switch {
	case errors.Is(err, source.ErrMalformed):
		reason = errorMalformed
	case errors.Is(err, source.ErrInvalid):
		reason = errorInvalid
	}
	sourceErrors.WithLabelValues(cluster, sourceErrorReasons[reason]).Inc()
	m.errs.add(cluster, err)
	log.Warningf("cluster %s: %v", cluster, err)
}

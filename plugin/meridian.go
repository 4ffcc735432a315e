// Package meridian is a CoreDNS plugin that answers a federated zone with
// the closest healthy shard of services that run in several Kubernetes
// clusters, judged by the client's location (GeoIP of the EDNS Client
// Subnet or the source address) and the clusters' topology.
//
// The plugin is wiring: sources (package source and below) feed the store,
// the store builds snapshots (package model), and the handler answers from
// the current snapshot with the pure logic of package answer.
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
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/source"
	"github.com/meridian-dns/meridian/plugin/source/kube"
	"github.com/meridian-dns/meridian/plugin/source/manifest"
	"github.com/meridian-dns/meridian/plugin/store"
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
	store   *store.Store
	locator *geo.Locator
	sources []source.Source
	health  healthView
	res     *resolver // the resolver role; nil for the authoritative role
	metrics metrics
	seq     atomic.Uint64 // counts answers chosen, for the roundrobin policy
	// random draws a query's random number (weighted picks, spill); nil
	// means math/rand/v2. Tests set it to replay the same draw for every
	// query type.
	random func() uint64

	problems map[model.Key]string // annotation problems last reported; builder only
	probeErr string               // the prober's last Set error; builder only

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a plugin for cfg. It opens the GeoIP database, so a bad path
// fails at once, but starts nothing: Start does.
func New(cfg *Config) (*Meridian, error) {
	m := &Meridian{cfg: cfg, metrics: newMetrics()}
	if err := m.addSources(); err != nil {
		return nil, err
	}
	loc, err := geo.New(geo.Config{
		Path:       cfg.GeoIP,
		CacheSize:  cfg.GeoIPCache,
		Reload:     cfg.GeoIPReload,
		Registerer: registerer(),
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	m.locator = loc
	opts := cfg.Build
	if cfg.Role == Resolver {
		if m.res, err = newResolver(cfg); err != nil {
			return nil, err
		}
		opts.ClusterIPs = true
	}
	m.health = m.newHealth()
	opts.Health = m.health
	m.store = store.New(store.Config{Options: opts, OnError: m.sourceError, OnBuild: m.built, Synced: m.sourcesSynced})
	return m, nil
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

// Start starts the store's builder, the sources and the GeoIP reloader.
func (m *Meridian) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.store.Run(ctx) }()
	for _, src := range m.sources {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := src.Run(ctx, m.store); err != nil {
				log.Errorf("source stopped: %v", err)
			}
		}()
	}
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.releaseAfterSync(ctx) }()
	if m.health.prober != nil {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); m.health.prober.Run(ctx) }()
	}
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
		if m.Ready() {
			debug.FreeOSMemory()
			return
		}
	}
}

// Stop stops everything Start started and waits for it.
func (m *Meridian) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	instances.remove(m)
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
		m.cancel = nil
	}
	m.locator.Stop()
	return nil
}

// sourceError logs and counts a problem a source reported.
func (m *Meridian) sourceError(cluster string, err error) {
	reason := "other"
	switch {
	case errors.Is(err, source.ErrMalformed):
		reason = "malformed"
	case errors.Is(err, source.ErrInvalid):
		reason = "invalid"
	}
	sourceErrors.WithLabelValues(cluster, reason).Inc()
	log.Warningf("cluster %s: %v", cluster, err)
}

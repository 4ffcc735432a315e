// Package kube is the source that watches member clusters through their
// Kubernetes API servers: one client-go informer factory per cluster, on
// Nodes, Services, EndpointSlices and Ingresses, converting every object at the
// informer (SetTransform) into the small structs of package source.
//
// Member clusters are kubeconfig contexts (several kubeconfig files may be
// given), plus optionally the cluster Meridian runs in. The kubeconfig files
// are re-read when they change: a context that appears starts its cluster,
// one that goes away stops it, one whose server or credentials change is
// restarted; the others are not disturbed.
package kube

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/logging"
	"github.com/meridian-dns/meridian/plugin/source"
)

// Errors of New and Run.
var (
	// ErrNoClusters is a configuration with no kubeconfig and no in-cluster name.
	ErrNoClusters = errors.New("no member clusters configured")
	// ErrKubeconfig is a kubeconfig that cannot be read or used.
	ErrKubeconfig = errors.New("bad kubeconfig")
)

// Options configure the source. Zero durations take the defaults below.
type Options struct {
	// Kubeconfigs are kubeconfig files; each context is a member cluster.
	Kubeconfigs []string
	// Contexts, when not empty, limits the contexts used and names their
	// clusters: context name to cluster name ("" keeps the context name).
	Contexts map[string]string
	// InCluster, when set, is the name of the cluster Meridian runs in,
	// reached with the pod's service account.
	InCluster string
	// Selector picks the federated Services and Ingresses; nil selects
	// every one.
	Selector labels.Selector
	// Namespaces limits the Services, EndpointSlices and Ingresses read;
	// empty means all.
	Namespaces []string
	// StaleAfter is how long an API server may not answer before its
	// cluster is stale (still served from its last state).
	StaleAfter time.Duration
	// DownAfter is how long an API server may not answer before its
	// cluster is down (its shards are no longer used in answers).
	DownAfter time.Duration
	// ProbeInterval is how often each API server's /readyz is checked.
	ProbeInterval time.Duration
	// StartupTimeout is how long HasSynced waits for every cluster.
	StartupTimeout time.Duration
	// Reload is how often the kubeconfig files are checked for changes.
	Reload time.Duration
	// KindRetry is how often a kind a cluster refuses to list (Ingresses
	// without RBAC, a missing Gateway API CRD) is tried again.
	KindRetry time.Duration
	// ParallelSyncs is how many clusters may do their first full list at
	// once; 0 means DefaultParallelSyncs. Until it is converted, a list is
	// held in memory as full API objects, so syncing every cluster of a
	// large federation at once multiplies the peak memory.
	ParallelSyncs int
	// Logger receives clusters joining, leaving and changing state, and at
	// Debug the errors of their watches. Nil discards them.
	Logger logging.Logger
	// Clock stamps Objects.Synced and times the API servers' liveness
	// (StaleAfter, DownAfter). Nil means the system clock.
	Clock clock.Clock
	// OnConfig, if set, is called after each read of the kubeconfig
	// files (and the in-cluster account) with its error: nil when they
	// were read and name a cluster, else the error for which the current
	// clusters are kept.
	OnConfig func(error)
}

// Defaults of Options.
const (
	DefaultStaleAfter     = 10 * time.Second
	DefaultDownAfter      = 60 * time.Second
	DefaultProbeInterval  = 2 * time.Second
	DefaultStartupTimeout = 30 * time.Second
	DefaultReload         = 2 * time.Second
	DefaultParallelSyncs  = 2
)

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StaleAfter, DefaultStaleAfter)
	def(&o.DownAfter, DefaultDownAfter)
	def(&o.ProbeInterval, DefaultProbeInterval)
	def(&o.StartupTimeout, DefaultStartupTimeout)
	def(&o.Reload, DefaultReload)
	def(&o.KindRetry, DefaultKindRetry)
	if o.ParallelSyncs <= 0 {
		o.ParallelSyncs = DefaultParallelSyncs
	}
	if o.Selector == nil {
		o.Selector = labels.Everything()
	}
	o.Logger = logging.OrNop(o.Logger)
	if o.OnConfig == nil {
		o.OnConfig = func(error) {}
	}
	o.Clock = clock.Or(o.Clock)
}

func (o *Options) namespaceSet() map[string]bool {
	if len(o.Namespaces) == 0 {
		return nil
	}
	m := make(map[string]bool, len(o.Namespaces))
	for _, ns := range o.Namespaces {
		m[ns] = true
	}
	return m
}

// Source watches the member clusters of Options.
type Source struct {
	opts    Options
	syncs   chan struct{} // a slot per first full list under way
	missing []string      // named contexts the last load found in no file (Run's goroutine only)

	mu       sync.Mutex
	members  map[string]*running
	initial  map[string]bool // clusters configured at start, for HasSynced
	timedOut bool
}

// running is a member cluster being watched.
type running struct {
	m      *member
	hash   string
	cancel context.CancelFunc
	done   chan struct{}
}

var _ source.Source = (*Source)(nil)

// New returns a source for opts. It reads nothing until Run.
func New(opts Options) (*Source, error) {
	if len(opts.Kubeconfigs) == 0 && opts.InCluster == "" {
		return nil, ErrNoClusters
	}
	opts.setDefaults()
	return &Source{opts: opts, syncs: make(chan struct{}, opts.ParallelSyncs), members: map[string]*running{}}, nil
}

// HasSynced reports whether every cluster configured at start has synced
// once, or the startup timeout has passed (the clusters still unsynced are
// then reported stale).
func (s *Source) HasSynced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initial == nil {
		return false
	}
	if s.timedOut {
		return true
	}
	for name := range s.initial {
		if r := s.members[name]; r != nil && !r.m.synced.Load() {
			return false
		}
	}
	return true
}

// Run watches the clusters until ctx is done. It fails at once only when
// the configuration cannot be read at all at start.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	clusters, err := s.load()
	s.opts.OnConfig(err)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.initial = map[string]bool{}
	for name := range clusters {
		s.initial[name] = true
	}
	s.mu.Unlock()
	var lastMissing string
	s.warnMissing(&lastMissing)
	s.apply(ctx, sink, clusters)

	startup := time.NewTimer(s.opts.StartupTimeout)
	defer startup.Stop()
	reload := time.NewTicker(s.opts.Reload)
	defer reload.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			s.stopAll()
			return nil
		case <-startup.C:
			s.startupTimeout(sink)
		case <-reload.C:
			clusters, err := s.load()
			s.opts.OnConfig(err)
			if err != nil {
				if err.Error() != lastErr {
					s.opts.Logger.Warningf("kube: keeping the current clusters: %v", err)
					lastErr = err.Error()
				}
				continue
			}
			lastErr = ""
			s.warnMissing(&lastMissing)
			s.apply(ctx, sink, clusters)
		}
	}
}

// startupTimeout marks the clusters that have not synced yet as stale.
func (s *Source) startupTimeout(sink source.Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timedOut = true
	for name := range s.initial {
		if r := s.members[name]; r != nil && !r.m.synced.Load() {
			s.opts.Logger.Warningf("kube: cluster %q has not synced after %s; reporting it stale", name, s.opts.StartupTimeout)
			sink.SetState(name, health.Stale)
		}
	}
}

// apply starts, stops and restarts members so that they match clusters.
func (s *Source) apply(ctx context.Context, sink source.Sink, clusters map[string]clusterConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, r := range s.members {
		if c, ok := clusters[name]; !ok || c.hash != r.hash {
			r.cancel()
			<-r.done
			delete(s.members, name)
			if !ok {
				sink.Remove(name)
				s.opts.Logger.Infof("kube: cluster %q left", name)
			}
		}
	}
	for name, c := range clusters {
		if _, ok := s.members[name]; ok {
			continue
		}
		mctx, cancel := context.WithCancel(ctx)
		r := &running{m: newMember(name, c.client, c.gateway, &s.opts, sink, s.syncs), hash: c.hash, cancel: cancel, done: make(chan struct{})}
		s.members[name] = r
		go func() { defer close(r.done); r.m.run(mctx) }()
		s.opts.Logger.Infof("kube: cluster %q joined (%s)", name, c.server)
	}
}

func (s *Source) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, r := range s.members {
		r.cancel()
		<-r.done
		delete(s.members, name)
	}
}

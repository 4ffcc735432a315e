package meridian

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/upstream"
)

// resolver is the state of the resolver role: the upstream client and the
// local decision of every service, rebuilt with every snapshot. Queries
// read the decisions, never the snapshot, so deciding costs one map lookup.
type resolver struct {
	cfg        *ResolverConfig
	fed        string
	domain     string // the first federated zone: where kube-form names point
	kubeZone   string // "<fed>.svc.<cluster domain>" when served, else ""
	clusterSvc string // ".svc.<cluster domain>", the suffix of local CNAME targets
	up         *upstream.Upstream

	index atomic.Pointer[localIndex]
	// The last build's decisions and whether it had the local cluster;
	// builder only.
	last       map[model.Key]answer.Why
	hadCluster bool
}

// localIndex is the local decision of every service of one snapshot.
type localIndex struct {
	cluster  *model.Cluster // the local cluster; nil until the source has it
	services map[model.Key]*localService
	other    *localService // services the local cluster does not run
}

// localService is one service's decision and its counters.
type localService struct {
	shard         *model.Shard // the local shard, answered or not; nil if none
	why           answer.Why
	local, remote prometheus.Counter
}

// newResolver makes the resolver role of cfg: its upstream client, with
// metrics under coredns_meridian_upstream_.
func newResolver(cfg *Config) (*resolver, error) {
	rc := &cfg.Resolver
	up, err := upstream.New(upstream.Config{
		Servers:    rc.Upstreams,
		Timeout:    rc.UpstreamTimeout,
		Total:      rc.UpstreamTotal,
		CacheSize:  rc.UpstreamCache,
		Registerer: registerer(),
		Logger:     log,
	})
	if err != nil {
		return nil, err
	}
	r := &resolver{cfg: rc, fed: cfg.Federation, clusterSvc: ".svc." + rc.ClusterDomain, up: up}
	kz := cfg.kubeZone()
	for _, z := range cfg.Zones {
		switch {
		case z == kz:
			r.kubeZone = kz
		case r.domain == "":
			r.domain = z
		}
	}
	if r.domain == "" {
		return nil, fmt.Errorf("role resolver: no federated zone in %q", cfg.Zones)
	}
	return r, nil
}

// rebuild decides every service of snap and logs the decisions that
// changed since the last snapshot. Called by the store's builder only.
func (r *resolver) rebuild(snap *model.Snapshot) {
	prev := r.index.Load()
	idx := &localIndex{
		cluster:  snap.Cluster(r.cfg.Cluster),
		services: make(map[model.Key]*localService, len(snap.Services)),
		other:    prev.otherService(),
	}
	seen := make(map[model.Key]answer.Why, len(snap.Services))
	local := 0
	for k, svc := range snap.Services {
		sh, why := answer.Local(svc, r.cfg.Cluster)
		ls := &localService{shard: sh, why: why}
		// The counters outlive snapshots: look them up once per service.
		if old := prev.service(k); old != nil {
			ls.local, ls.remote = old.local, old.remote
		} else {
			ls.local = resolverAnswers.WithLabelValues(k.Namespace, k.Name, "local")
			ls.remote = resolverAnswers.WithLabelValues(k.Namespace, k.Name, "remote")
		}
		idx.services[k] = ls
		seen[k] = why
		if why.Local() {
			local++
		}
		if r.last == nil {
			continue
		}
		switch prev, ok := r.last[k]; {
		case ok && prev == why:
		case why.Local():
			log.Infof("service %s/%s: answered from cluster %s", k.Namespace, k.Name, r.cfg.Cluster)
		case !ok || prev.Local():
			log.Infof("service %s/%s: answered by the upstream servers (%s)", k.Namespace, k.Name, why)
		}
	}
	if r.last == nil || (idx.cluster != nil) != r.hadCluster {
		if idx.cluster == nil {
			log.Warningf("cluster %s is not in the snapshot yet: every service is answered by the upstream servers", r.cfg.Cluster)
		} else {
			log.Infof("cluster %s: %d of %d services answered locally", r.cfg.Cluster, local, len(snap.Services))
		}
	}
	r.last, r.hadCluster = seen, idx.cluster != nil
	r.index.Store(idx)
}

// lookup returns the decision for k: the local cluster's, or remote when
// the resolver has no snapshot yet or k does not run in its cluster.
func (r *resolver) lookup(k model.Key) (*localService, *model.Cluster) {
	idx := r.index.Load()
	if idx == nil {
		return nil, nil
	}
	if ls := idx.service(k); ls != nil {
		return ls, idx.cluster
	}
	return idx.other, idx.cluster
}

// otherService is the decision of the services the local cluster does not
// run: idx's, or a new one before the first index.
func (idx *localIndex) otherService() *localService {
	if idx != nil {
		return idx.other
	}
	return &localService{
		why:    answer.NoLocalShard,
		local:  resolverAnswers.WithLabelValues("", "", "local"),
		remote: resolverAnswers.WithLabelValues("", "", "remote"),
	}
}

// service returns k's decision in idx (nil-safe), or nil.
func (idx *localIndex) service(k model.Key) *localService {
	if idx == nil {
		return nil
	}
	return idx.services[k]
}

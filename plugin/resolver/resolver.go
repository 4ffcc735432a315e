// Package resolver is Meridian's local-first resolver role: beside a member
// cluster's DNS, it answers a federated service name with the local
// cluster's shard while that is healthy, and otherwise with the
// authoritative servers' answer, chased through its upstream client.
// See docs/resolver.md.
package resolver

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/logging"
	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/upstream"
)

// Config is what the resolver role reads of the Corefile.
type Config struct {
	// Cluster is the name of the cluster the resolver serves: the
	// in_cluster name, the only kubeconfig context's, or local_cluster.
	Cluster string
	// Upstreams are the authoritative Meridian servers, as IP:port.
	Upstreams []string
	// UpstreamTimeout bounds one attempt at one upstream server;
	// UpstreamTotal bounds a whole query, every server tried included.
	UpstreamTimeout time.Duration
	UpstreamTotal   time.Duration
	// UpstreamCache is the number of upstream replies cached; 0 is none.
	UpstreamCache int
	// ClusterDomain is the member cluster's DNS domain, fully qualified.
	ClusterDomain string
	// LocalCNAME answers a local shard with a CNAME to the Service's
	// cluster name (and its cluster IPs) instead of the cluster IPs alone.
	LocalCNAME bool
	// LocalTTL is the TTL of local answers and of the CNAME a remote
	// answer starts with.
	LocalTTL uint32
	// ShardMetrics counts answers per service; off, every service counts
	// under an empty namespace and service.
	ShardMetrics bool
}

// KubeZone is the zone of the kube-dns form of federated names of fed,
// "<fed>.svc.<cluster domain>".
func (c *Config) KubeZone(fed string) string {
	return fed + ".svc." + c.ClusterDomain
}

// Resolver is the resolver role: the upstream client and the local
// decision of every service, rebuilt with every snapshot (Publish).
// Queries read the decisions, never the snapshot, so deciding costs one map
// lookup.
type Resolver struct {
	cfg        *Config
	log        logging.Logger
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
	snap     *model.Snapshot // for the hosts of Ingresses and routes
	cluster  *model.Cluster  // the local cluster; nil until the source has it
	services map[model.Key]*localService
	other    *localService // services the local cluster does not run
}

// localService is one service's decision and its counters.
type localService struct {
	from          *model.Service // what it was decided from
	shard         *model.Shard   // the local shard, answered or not; nil if none
	why           answer.Why
	local, remote prometheus.Counter
}

// New makes the resolver role of cfg for federation fed, serving zones
// (the federated zone, and the kube-form zone if served): its upstream
// client registers its metrics on reg (under upstream_).
func New(cfg *Config, fed string, zones []string, reg prometheus.Registerer, log logging.Logger) (*Resolver, error) {
	up, err := upstream.New(upstream.Config{
		Servers:    cfg.Upstreams,
		Timeout:    cfg.UpstreamTimeout,
		Total:      cfg.UpstreamTotal,
		CacheSize:  cfg.UpstreamCache,
		Registerer: reg,
		Logger:     log,
	})
	if err != nil {
		return nil, err
	}
	r := &Resolver{cfg: cfg, log: logging.OrNop(log), fed: fed, clusterSvc: ".svc." + cfg.ClusterDomain, up: up}
	kz := cfg.KubeZone(fed)
	for _, z := range zones {
		switch {
		case z == kz:
			r.kubeZone = kz
		case r.domain == "":
			r.domain = z
		}
	}
	if r.domain == "" {
		return nil, fmt.Errorf("role resolver: no federated zone in %q: %w", zones, errNoZone)
	}
	return r, nil
}

// errNoZone is a resolver with no federated zone to answer.
var errNoZone = errors.New("no federated zone")

// Publish implements pipeline.View: it decides every service of snap and
// logs the decisions that changed since the last snapshot. Counters of
// services that left are deleted.
func (r *Resolver) Publish(snap *model.Snapshot) {
	prev := r.index.Load()
	idx := &localIndex{
		snap:     snap,
		cluster:  snap.Cluster(r.cfg.Cluster),
		services: make(map[model.Key]*localService, len(snap.Services)),
		other:    prev.otherService(),
	}
	seen := make(map[model.Key]answer.Why, len(snap.Services))
	local := 0
	for k, svc := range snap.Services {
		old := prev.service(k)
		ls := old
		if old == nil || old.from != svc { // a service a build shares is decided already
			sh, why := answer.Local(svc, r.cfg.Cluster)
			ls = &localService{from: svc, shard: sh, why: why}
			// The counters outlive snapshots: look them up once per service.
			if old != nil {
				ls.local, ls.remote = old.local, old.remote
			} else {
				ls.local, ls.remote = r.counters(k)
			}
		}
		why := ls.why
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
			r.log.Infof("service %s/%s: answered from cluster %s", k.Namespace, k.Name, r.cfg.Cluster)
		case !ok || prev.Local():
			r.log.Infof("service %s/%s: answered by the upstream servers (%s)", k.Namespace, k.Name, why)
		}
	}
	if r.last == nil || (idx.cluster != nil) != r.hadCluster {
		if idx.cluster == nil {
			r.log.Warningf("cluster %s is not in the snapshot yet: every service is answered by the upstream servers", r.cfg.Cluster)
		} else {
			r.log.Infof("cluster %s: %d of %d services answered locally", r.cfg.Cluster, local, len(snap.Services))
		}
	}
	r.last, r.hadCluster = seen, idx.cluster != nil
	r.index.Store(idx)
	r.forget(prev, idx)
}

// lookup returns the decision for k: the local cluster's, or remote when
// the resolver has no snapshot yet or k does not run in its cluster.
func (r *Resolver) lookup(k model.Key) (*localService, *model.Cluster) {
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

package meridian

import (
	"slices"
	"sync"

	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/fastpath"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

const subsystem = "meridian"

// Counters, in CoreDNS's style: package-level, on the default registry that
// the prometheus plugin serves. Labels are bounded: cluster names, levels,
// policies and reasons, never a client address or a query name.
var (
	answersTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "answers_total",
		Help:      "Answers that named a shard, by the cluster of the first shard named and the policy.",
	}, []string{"cluster", "policy"})
	fallbacksTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "fallbacks_total",
		Help:      "Zone and region answers with no usable shard, which fell back to the level above (CNAME), by level.",
	}, []string{"level"})
	failOpensTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "fail_opens_total",
		Help:      "Global answers with no usable shard, which named every shard with an address instead, by the service's policy.",
	}, []string{"policy"})
	spillsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "spills_total",
		Help:      "Answers moved from a degraded closest shard to the next-closest by the spill option, by the cluster moved to.",
	}, []string{"cluster"})
	annotationProblems = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "annotation_problems_total",
		Help:      "Service annotations found unusable (value, unknown, conflict), counted once when they appear; the service keeps the default.",
	}, []string{"reason"})
	buildDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "snapshot_build_duration_seconds",
		Help:      "Time taken to gather, build and publish a snapshot; its count is the number of snapshots built.",
		Buckets:   []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	sourceErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "source_errors_total",
		Help:      "Files and objects a source skipped, by cluster and reason (malformed, invalid, other).",
	}, []string{"cluster", "reason"})
	sourceConfigOK = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: subsystem,
		Name:      "source_config_ok",
		Help:      "1 when a source's configuration (source kubeconfig: the kubeconfig files; manifests: the folder) was read at its last check, 0 while it cannot be and the clusters read before are kept.",
	}, []string{"source"})
)

// configReporter returns the OnConfig of a source: it sets
// coredns_meridian_source_config_ok{source}.
func configReporter(source string) func(error) {
	g := sourceConfigOK.WithLabelValues(source)
	return func(err error) {
		if err != nil {
			g.Set(0)
			return
		}
		g.Set(1)
	}
}

// registerer is where the plugin's packages (geo, health, upstream)
// register their collectors: the default registry, which the prometheus
// plugin serves, under CoreDNS's prefix.
func registerer() prometheus.Registerer {
	return prometheus.WrapRegistererWithPrefix(plugin.Namespace+"_", prometheus.DefaultRegisterer)
}

// answerMetrics counts the authoritative role's answers
// (authority.Metrics).
type answerMetrics struct{}

// Answered implements authority.Metrics.
func (answerMetrics) Answered(cluster string, p policy.Kind) {
	answerCounters.inc(answersTotal, answerLabels{cluster, p}, func(k answerLabels) []string {
		return []string{k.cluster, k.policy.String()}
	})
}

// Children of the counters counted on every answer, cached by their labels.
var (
	answerCounters   childCache[answerLabels]
	fallbackCounters childCache[answer.Level]
)

// childCache caches a CounterVec's children by a comparable key of their
// labels: looking a child up with WithLabelValues on every answer validated
// and hashed its label values, a tenth of a query's cost. Series are never
// deleted and their labels are bounded (clusters, policies, levels), so the
// cache is too.
type childCache[K comparable] struct{ m sync.Map }

// inc adds one to vec's child for k, whose label values are labels(k).
func (c *childCache[K]) inc(vec *prometheus.CounterVec, k K, labels func(K) []string) {
	if ctr, ok := c.m.Load(k); ok {
		ctr.(prometheus.Counter).Inc()
		return
	}
	ctr := vec.WithLabelValues(labels(k)...)
	c.m.Store(k, ctr)
	ctr.Inc()
}

type answerLabels struct {
	cluster string
	policy  policy.Kind
}

// Fallback implements authority.Metrics.
func (answerMetrics) Fallback(l answer.Level) {
	fallbackCounters.inc(fallbacksTotal, l, func(l answer.Level) []string { return []string{l.String()} })
}

// FailOpen implements authority.Metrics.
func (answerMetrics) FailOpen(p policy.Kind) {
	failOpensTotal.WithLabelValues(p.String()).Inc()
}

// Spilled implements authority.Metrics.
func (answerMetrics) Spilled(cluster string) {
	spillsTotal.WithLabelValues(cluster).Inc()
}

// The reasons of coredns_meridian_source_errors_total, indexes of
// sourceErrorReasons.
const (
	errorMalformed = iota
	errorInvalid
	errorOther
)

// sourceErrorReasons are the reason labels of source errors.
var sourceErrorReasons = [...]string{errorMalformed: "malformed", errorInvalid: "invalid", errorOther: "other"}

// policies are the answer policies, for the label values made up front.
var policies = []policy.Kind{policy.Closest, policy.Failover, policy.Weighted, policy.RoundRobin}

// The counters' series whose label values are known at start exist from
// start, at 0: a rate() or an alert over them has a series to read before
// the first event, and every metric name is in the first scrape.
func init() {
	for _, p := range policies {
		failOpensTotal.WithLabelValues(p.String())
	}
	for _, l := range []answer.Level{answer.Region, answer.Zone} {
		fallbacksTotal.WithLabelValues(l.String())
	}
	for _, r := range []string{"value", "unknown", "conflict"} {
		annotationProblems.WithLabelValues(r)
	}
}

// clusterSeries is the view that makes the counters' series of each
// cluster, at 0, when the cluster first appears in a snapshot: answers by
// policy, spills and source errors by reason. Series are never deleted,
// as the counters' own are not.
type clusterSeries struct {
	seen map[string]bool // loop only
}

// Publish implements pipeline.View.
func (v *clusterSeries) Publish(snap *model.Snapshot) {
	if v.seen == nil {
		v.seen = map[string]bool{}
	}
	for _, c := range snap.Clusters {
		if v.seen[c.Name] {
			continue
		}
		v.seen[c.Name] = true
		for _, p := range policies {
			answersTotal.WithLabelValues(c.Name, p.String())
		}
		spillsTotal.WithLabelValues(c.Name)
		for _, r := range sourceErrorReasons {
			sourceErrors.WithLabelValues(c.Name, r)
		}
	}
}

// Gauges come from the current snapshot at scrape time, so a shard or a
// cluster that goes away takes its series with it.
var (
	descShardHealthy = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_shard_healthy",
		"1 when the shard is usable in answers (cluster usable, address, enough ready endpoints), else 0.",
		[]string{"cluster", "namespace", "service"}, nil)
	descShardReady = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_shard_ready_endpoints",
		"Ready endpoints of the shard.", []string{"cluster", "namespace", "service"}, nil)
	descShardProbe = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_shard_probe_up",
		"1 when the probe of a probed shard passes on some address (after rise/fall), else 0; absent for shards not probed.",
		[]string{"cluster", "namespace", "service"}, nil)
	descShardDegraded = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_shard_degraded",
		"1 when the shard is usable but not at full strength (endpoints not ready, or a failing signal not yet fallen), else 0.",
		[]string{"cluster", "namespace", "service"}, nil)
	descProblems = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_service_annotation_problems",
		"Annotations of the service that cannot be used now; absent when there are none.", []string{"namespace", "service"}, nil)
	descClusterUp = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_cluster_up",
		"1 when the cluster's shards may be used (up or stale), else 0.", []string{"cluster", "region"}, nil)
	descClusterState = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_cluster_state",
		"1 for the cluster's current liveness state (up, stale, down), 0 for the others.", []string{"cluster", "state"}, nil)
	descSkipped = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_source_skipped_objects",
		"Objects the cluster's source currently leaves out: ignored (Services outside the federation filter) or invalid (bad data).",
		[]string{"cluster", "reason"}, nil)
	descLastUpdate = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_source_last_update_timestamp_seconds",
		"When the cluster's source last delivered its complete state, in seconds since the epoch.", []string{"cluster"}, nil)
	descLocalHealthy = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_resolver_local_shard_healthy",
		"Resolver role: 1 when the service is answered from the local cluster (shard healthy, cluster usable, cluster IP), else 0.",
		[]string{"namespace", "service"}, nil)
	descServices = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_services",
		"Federated services in the current snapshot.", nil, nil)
	descSnapshot = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_snapshot_timestamp_seconds",
		"When the current snapshot was built, in seconds since the epoch.", nil, nil)
	descKindMissing = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_source_kind_unavailable",
		"1 for each kind the cluster refuses to list to Meridian (RBAC not granted, CRD not installed): skipped, tried again every 10s.",
		[]string{"cluster", "kind"}, nil)
	descHosts = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_hosts",
		"Hosts of Ingresses and Gateway API routes answered in the current snapshot, exact and wildcard.", nil, nil)
	descHostConflicts = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_host_conflicts",
		"Claims on hosts that are refused, by reason: taken (another namespace/name owns the host), not_allowed (host rules), "+
			"federation_name (the apex or the Federation v1 names), region_name (a region or zone name), duplicate (two objects of the owner in one cluster).",
		[]string{"reason"}, nil)
	descHostsOutside = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_hosts_outside_zones",
		"Hosts of Ingresses and routes in no zone Meridian serves: ignored.", nil, nil)
	descHostShardHealthy = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_host_shard_healthy",
		"1 when the host's shard is usable in answers (cluster usable, address, backends ready, route attached), else 0.",
		[]string{"cluster", "host"}, nil)
	descHostShardReady = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_host_shard_ready_endpoints",
		"Ready endpoints of the host shard's backend Services, summed.", []string{"cluster", "host"}, nil)
	descStates = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_service_states",
		"Federated services (kind service) and hosts (kind host) by state: failing_open (no shard with an address usable), "+
			"degraded (some not usable), no_address, healthy.", []string{"kind", "state"}, nil)
	descWithProblems = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_annotation_problem_services",
		"Federated services and hosts whose annotations have problems now (each keeps the default for those).", nil, nil)
	descReady = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_ready",
		"1 when every meridian block of the process is ready (every source synced, the snapshot holds every change), else 0.", nil, nil)
	descPartitioned = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_partitioned",
		"1 while Meridian judges itself cut off from every member cluster (none is up): their last state is served with the degraded TTL and none is judged down; else 0.", nil, nil)
	descBehind = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_snapshot_behind_seconds",
		"How long the oldest change a source reported has waited for a snapshot that holds it; 0 when none waits.", nil, nil)
	descGeoIPBuilt = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_geoip_database_build_timestamp_seconds",
		"The build time of the GeoIP database in use, in seconds since the epoch; absent without a database.", nil, nil)
)

// conflictReasons are the reasons of host conflicts, each always reported.
var conflictReasons = []model.Why{model.Taken, model.NotAllowed, model.FederationName, model.RegionName, model.Duplicate}

// registry holds the running plugins; the collector reports on them.
type registry struct {
	mu sync.Mutex
	ms []*Meridian
}

var instances = &registry{}

func init() { prometheus.MustRegister(instances, fastPackets{}) }

// fastPackets exposes the fast path's per-socket packet counters, summed
// when Prometheus scrapes (fastpath.Totals): nothing is counted per query
// but a socket-local increment.
type fastPackets struct{}

var fastPacketsDesc = prometheus.NewDesc(plugin.Namespace+"_"+subsystem+"_fastpath_packets_total",
	"UDP packets read by the fast path, by what became of them: answered by the fast path, handed to the CoreDNS chain, or dropped because the chain's queue was full.",
	[]string{"path"}, nil)

func (fastPackets) Describe(ch chan<- *prometheus.Desc) { ch <- fastPacketsDesc }

func (fastPackets) Collect(ch chan<- prometheus.Metric) {
	answered, chained, dropped := fastpath.Totals()
	for path, v := range map[string]uint64{"answered": answered, "chain": chained, "dropped": dropped} {
		ch <- prometheus.MustNewConstMetric(fastPacketsDesc, prometheus.CounterValue, float64(v), path)
	}
}

func (r *registry) add(m *Meridian) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ms = append(r.ms, m)
}

func (r *registry) remove(m *Meridian) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.ms {
		if x == m {
			r.ms = append(r.ms[:i], r.ms[i+1:]...)
			return
		}
	}
}

// ready reports whether every running plugin is ready (Meridian.ready).
func (r *registry) ready() bool {
	r.mu.Lock()
	ms := slices.Clone(r.ms)
	r.mu.Unlock()
	for _, m := range ms {
		if !m.ready() {
			return false
		}
	}
	return true
}

// Describe implements prometheus.Collector.
func (r *registry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descShardHealthy, descShardReady, descShardProbe, descShardDegraded, descProblems, descClusterUp, descClusterState, descSkipped, descLastUpdate, descLocalHealthy, descServices, descSnapshot,
		descKindMissing, descHosts, descHostConflicts, descHostsOutside, descHostShardHealthy, descHostShardReady,
		descStates, descWithProblems, descReady, descPartitioned, descBehind, descGeoIPBuilt} {
		ch <- d
	}
}

// reported returns the plugin whose snapshot is reported (the first
// authoritative one, else the first resolver) and the first resolver.
func (r *registry) reported() (m, res *Meridian) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.ms {
		switch {
		case x.auth != nil && (m == nil || m.auth == nil):
			m = x
		case x.res != nil && res == nil:
			res = x
			if m == nil {
				m = x
			}
		}
	}
	return m, res
}

// Collect implements prometheus.Collector. Only the first running plugin
// is reported, the first authoritative one if any: several server blocks
// serving one federation would otherwise report the same series twice.
// The resolver gauges come from the first resolver.
func (r *registry) Collect(ch chan<- prometheus.Metric) {
	m, res := r.reported()
	if res != nil && res.cfg.ShardMetrics {
		res.res.EachLocal(func(k model.Key, local bool) {
			ch <- prometheus.MustNewConstMetric(descLocalHealthy, prometheus.GaugeValue, b2f(local), k.Namespace, k.Name)
		})
	}
	if m == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descReady, b2f(m.Ready()))
	gauge(descBehind, m.pipe.Behind().Seconds())
	if in := m.locator.Info(); !in.Built.IsZero() {
		gauge(descGeoIPBuilt, float64(in.Built.Unix()))
	}
	snap := m.pipe.Snapshot()
	if snap == nil {
		return
	}
	gauge(descPartitioned, b2f(snap.Partitioned))
	collectStates(snap, gauge)
	gauge(descServices, float64(len(snap.Services)))
	gauge(descSnapshot, float64(snap.Built.UnixNano())/1e9)
	gauge(descHosts, float64(len(snap.Hosts)+len(snap.Wildcards)))
	gauge(descHostsOutside, float64(snap.Outside))
	var conflicts [model.Duplicate + 1]int
	for _, c := range snap.Conflicts {
		conflicts[c.Why]++
	}
	for _, why := range conflictReasons {
		gauge(descHostConflicts, float64(conflicts[why]), why.String())
	}
	for i, c := range snap.Clusters {
		in := snap.Intake[i]
		gauge(descClusterUp, b2f(c.State.Usable()), c.Name, c.Region)
		for _, st := range []health.State{health.Up, health.Stale, health.Down} {
			gauge(descClusterState, b2f(c.State == st), c.Name, st.String())
		}
		gauge(descSkipped, float64(in.Ignored), c.Name, "ignored")
		gauge(descSkipped, float64(in.Invalid), c.Name, "invalid")
		for _, kind := range in.Missing {
			gauge(descKindMissing, 1, c.Name, kind)
		}
		if !in.Synced.IsZero() {
			gauge(descLastUpdate, float64(in.Synced.UnixNano())/1e9, c.Name)
		}
	}
	if !m.cfg.ShardMetrics {
		return
	}
	for _, svc := range snap.Services {
		if len(svc.Problems) > 0 {
			gauge(descProblems, float64(len(svc.Problems)), svc.Namespace, svc.Name)
		}
		for _, sh := range svc.Shards {
			gauge(descShardHealthy, b2f(sh.Usable), sh.Cluster.Name, svc.Namespace, svc.Name)
			gauge(descShardReady, float64(sh.Ready), sh.Cluster.Name, svc.Namespace, svc.Name)
			gauge(descShardDegraded, b2f(sh.Degraded), sh.Cluster.Name, svc.Namespace, svc.Name)
			if sh.Probed {
				gauge(descShardProbe, b2f(sh.ProbeUp), sh.Cluster.Name, svc.Namespace, svc.Name)
			}
		}
	}
	for _, hs := range []map[string]*model.Service{snap.Hosts, snap.Wildcards} {
		for _, h := range hs {
			for _, sh := range h.Shards {
				gauge(descHostShardHealthy, b2f(sh.Usable), sh.Cluster.Name, h.Host)
				gauge(descHostShardReady, float64(sh.Ready), sh.Cluster.Name, h.Host)
			}
		}
	}
}

// collectStates reports the services and hosts by state, and how many
// have annotation problems: every state of both kinds, zeros included, so
// that alert rules need no absent().
func collectStates(snap *model.Snapshot, gauge func(*prometheus.Desc, float64, ...string)) {
	var counts [2][model.Healthy + 1]int
	problems := 0
	count := func(kind int, svc *model.Service) {
		st, _, _ := svc.State()
		counts[kind][st]++
		if len(svc.Problems) > 0 {
			problems++
		}
	}
	for _, svc := range snap.Services {
		count(0, svc)
	}
	for _, hs := range []map[string]*model.Service{snap.Hosts, snap.Wildcards} {
		for _, h := range hs {
			count(1, h)
		}
	}
	for kind, name := range []string{"service", "host"} {
		for _, st := range model.States {
			gauge(descStates, float64(counts[kind][st]), name, st.String())
		}
	}
	gauge(descWithProblems, float64(problems))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

package answer

import (
	"github.com/meridian-dns/meridian/plugin/model"
)

// Why says why the local-first resolver answers a service from its own
// cluster, or why it does not.
type Why uint8

// The reasons, the first one local, the others remote.
const (
	// LocalHealthy: the local shard is healthy, its cluster's API server
	// is usable and the Service has a cluster IP: answered locally.
	LocalHealthy Why = iota
	// NoLocalShard: the service does not run in the local cluster (or the
	// resolver has no view of it yet).
	NoLocalShard
	// LocalUnhealthy: the local shard's ready endpoints are below the
	// service's minimums (after rise/fall).
	LocalUnhealthy
	// LocalClusterDown: the local API server has not answered for
	// down_after, so the local view cannot be trusted.
	LocalClusterDown
	// NoClusterIP: the local Service is headless (or has no cluster IP
	// yet), so there is no address to answer with.
	NoClusterIP
	// NoAddress: the local Ingress or route of a host has no load-balancer
	// address yet.
	NoAddress
)

// Local reports whether the answer is local.
func (w Why) Local() bool { return w == LocalHealthy }

// String returns the reason as used in logs and metrics.
func (w Why) String() string {
	switch w {
	case LocalHealthy:
		return "local"
	case NoLocalShard:
		return "no_local_shard"
	case LocalUnhealthy:
		return "unhealthy"
	case LocalClusterDown:
		return "cluster_down"
	case NoClusterIP:
		return "no_cluster_ip"
	case NoAddress:
		return "no_address"
	}
	return "unknown"
}

// Local decides whether the resolver of cluster answers svc (nil: a
// service the cluster does not run) with the local Service's cluster IPs,
// and returns the local shard whether or not it does (nil when there is
// none), so that a remote answer naming it can be told. The decision does not depend
// on the client or the query type: an answer of a family the Service has
// no cluster IP of is empty (NODATA), not remote, so a dual-stack client
// never gets a remote address beside a local one.
func Local(svc *model.Service, cluster string) (*model.Shard, Why) {
	sh, why := localShard(svc, cluster)
	if why == LocalHealthy && len(sh.ClusterIPs) == 0 {
		return sh, NoClusterIP
	}
	return sh, why
}

// LocalHost is Local for a host of Ingresses or routes (nil: a host the
// cluster does not serve): the resolver of cluster answers it with the
// local Ingress's or Gateway's own load-balancer addresses (or its
// hostname), which is where the cluster's ingress traffic enters, while
// the local host shard is healthy.
func LocalHost(h *model.Service, cluster string) (*model.Shard, Why) {
	sh, why := localShard(h, cluster)
	if why == LocalHealthy && !sh.HasAddress() {
		return sh, NoAddress
	}
	return sh, why
}

// localShard finds the shard of svc in cluster and judges it, whatever
// its addresses.
func localShard(svc *model.Service, cluster string) (*model.Shard, Why) {
	if svc == nil {
		return nil, NoLocalShard
	}
	var sh *model.Shard
	for _, s := range svc.Shards {
		if s.Cluster.Name == cluster {
			sh = s
			break
		}
	}
	switch {
	case sh == nil:
		return nil, NoLocalShard
	case !sh.Cluster.State.Usable():
		return sh, LocalClusterDown
	case !sh.Healthy:
		return sh, LocalUnhealthy
	}
	return sh, LocalHealthy
}

// Remote returns the names a remote answer for the service nm (a global
// service or SRV name) chases at the authoritative servers, most specific
// first: the zone name and the region name of the local cluster c, then
// the global name itself, each under origin (the federated zone). Without
// a region (c nil, or its Nodes carry no region label) only the global
// name is left; without a zone, the region name and the global name. A
// cluster in several zones uses the first in name order, which the
// Corefile's "cluster NAME zones ZONE" can pin. Every name is fully
// qualified and lower case; nm's strings are.
func Remote(nm Name, c *model.Cluster, fed, origin string) []string {
	global := nm
	global.Level, global.Region, global.Zone = Global, "", ""
	out := make([]string, 0, 3)
	if c != nil && c.Region != "" {
		if len(c.Zones) > 0 {
			zone := global
			zone.Level, zone.Region, zone.Zone = Zone, c.Region, c.Zones[0]
			out = append(out, zone.Format(fed, origin))
		}
		region := global
		region.Level, region.Region = Region, c.Region
		out = append(out, region.Format(fed, origin))
	}
	return append(out, global.Format(fed, origin))
}

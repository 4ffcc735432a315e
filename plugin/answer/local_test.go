package answer

import (
	"net"
	"slices"
	"testing"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/model"
)

func TestLocal(t *testing.T) {
	up := &model.Cluster{Name: "home", State: health.Up}
	stale := &model.Cluster{Name: "home", State: health.Stale}
	down := &model.Cluster{Name: "home", State: health.Down}
	other := &model.Cluster{Name: "away", State: health.Up}
	ip := []net.IP{net.ParseIP("10.96.0.10").To4()}
	shard := func(c *model.Cluster, healthy bool, ips []net.IP) *model.Shard {
		return &model.Shard{Cluster: c, Healthy: healthy, Addrs: &model.Addrs{ClusterIPs: ips}}
	}
	tests := []struct {
		name   string
		shards []*model.Shard // nil service when empty and nilSvc
		nilSvc bool
		want   Why
	}{
		{name: "healthy", shards: []*model.Shard{shard(other, true, ip), shard(up, true, ip)}, want: LocalHealthy},
		{name: "stale cluster still trusted", shards: []*model.Shard{shard(stale, true, ip)}, want: LocalHealthy},
		{name: "unknown service", nilSvc: true, want: NoLocalShard},
		{name: "runs elsewhere only", shards: []*model.Shard{shard(other, true, ip)}, want: NoLocalShard},
		{name: "unhealthy", shards: []*model.Shard{shard(up, false, ip)}, want: LocalUnhealthy},
		{name: "cluster down beats healthy", shards: []*model.Shard{shard(down, true, ip)}, want: LocalClusterDown},
		{name: "headless", shards: []*model.Shard{shard(up, true, nil)}, want: NoClusterIP},
		{name: "unhealthy headless says unhealthy", shards: []*model.Shard{shard(up, false, nil)}, want: LocalUnhealthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var svc *model.Service
			if !tc.nilSvc {
				svc = &model.Service{Shards: tc.shards}
			}
			sh, why := Local(svc, "home")
			if why != tc.want {
				t.Fatalf("why %v, want %v", why, tc.want)
			}
			if (sh == nil) != (why == NoLocalShard) || (sh != nil && sh.Cluster.Name != "home") {
				t.Errorf("shard %+v for %v", sh, why)
			}
		})
	}
}

func TestRemote(t *testing.T) {
	const fed, origin = "myfed", "example.com."
	svc := Name{Kind: Service, Level: Global, Federated: true, Namespace: "ns", Service: "web"}
	srv := svc
	srv.Kind, srv.Proto, srv.Port = SRV, "tcp", "http"
	tests := []struct {
		name string
		nm   Name
		c    *model.Cluster
		want []string
	}{
		{name: "zone, region, global", nm: svc, c: &model.Cluster{Region: "us-east1", Zones: []string{"us-east1-b", "us-east1-c"}},
			want: []string{"web.ns.myfed.svc.us-east1-b.us-east1.example.com.", "web.ns.myfed.svc.us-east1.example.com.", "web.ns.myfed.svc.example.com."}},
		{name: "no zone", nm: svc, c: &model.Cluster{Region: "us-east1"},
			want: []string{"web.ns.myfed.svc.us-east1.example.com.", "web.ns.myfed.svc.example.com."}},
		{name: "zone without region", nm: svc, c: &model.Cluster{Zones: []string{"z"}}, want: []string{"web.ns.myfed.svc.example.com."}},
		{name: "no cluster", nm: svc, want: []string{"web.ns.myfed.svc.example.com."}},
		{name: "SRV keeps its prefix", nm: srv, c: &model.Cluster{Region: "r", Zones: []string{"z"}},
			want: []string{"_http._tcp.web.ns.myfed.svc.z.r.example.com.", "_http._tcp.web.ns.myfed.svc.r.example.com.", "_http._tcp.web.ns.myfed.svc.example.com."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Remote(tc.nm, tc.c, fed, origin); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

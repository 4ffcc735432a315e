package meridian

import (
	"strings"
	"testing"
	"time"
)

func TestParseResolver(t *testing.T) {
	const head = "meridian example.org myfed.svc.cluster.local {\nrole resolver\nfederation myfed\n"
	runParse(t, []parseCase{
		{name: "defaults, in_cluster names the cluster", input: head + "in_cluster us-east1-a\nupstream 192.0.2.53\n}",
			check: func(t *testing.T, c *Config) {
				r := c.Resolver
				if c.Role != Resolver || r.Cluster != "us-east1-a" || strings.Join(r.Upstreams, ",") != "192.0.2.53:53" ||
					r.UpstreamTimeout != 750*time.Millisecond || r.UpstreamTotal != 1500*time.Millisecond || r.UpstreamCache != 10000 ||
					r.ClusterDomain != "cluster.local." || r.LocalCNAME || r.LocalTTL != 5 || c.kubeZone() != "myfed.svc.cluster.local." {
					t.Errorf("defaults: %+v", r)
				}
			}},
		{name: "every option", input: head + `kubeconfig /k ctx-a=home
			upstream 192.0.2.53:5300 [2001:db8::53]:53
			upstream "198.51.100.1, 198.51.100.2 2001:db8::1"
			upstream_timeout 300ms
			upstream_cache 0
			cluster_domain Corp.Example
			local_answer cname
			local_ttl 2
			min_ready 2
			rise 3
		}`, check: func(t *testing.T, c *Config) {
			r := c.Resolver
			if r.Cluster != "home" || strings.Join(r.Upstreams, " ") != "192.0.2.53:5300 [2001:db8::53]:53 198.51.100.1:53 198.51.100.2:53 [2001:db8::1]:53" ||
				r.UpstreamTimeout != 300*time.Millisecond || r.UpstreamTotal != 600*time.Millisecond || r.UpstreamCache != 0 ||
				r.ClusterDomain != "corp.example." || !r.LocalCNAME || r.LocalTTL != 2 || c.Build.Defaults.MinReady != 2 || c.Build.Defaults.Probe.Rise != 3 {
				t.Errorf("options not applied: %+v", r)
			}
		}},
		{name: "kubeconfig context without a name", input: head + "kubeconfig /k ctx-a\nupstream 192.0.2.53\n}", check: func(t *testing.T, c *Config) {
			if c.Resolver.Cluster != "ctx-a" {
				t.Errorf("cluster %q", c.Resolver.Cluster)
			}
		}},
		{name: "local_cluster among manifests", input: head + "manifests d\nlocal_cluster c2\nupstream 192.0.2.53\n}", check: func(t *testing.T, c *Config) {
			if c.Resolver.Cluster != "c2" {
				t.Errorf("cluster %q", c.Resolver.Cluster)
			}
		}},
		{name: "upstream total", input: head + "in_cluster c\nupstream 192.0.2.53\nupstream_timeout 1s 3s\n}", check: func(t *testing.T, c *Config) {
			if c.Resolver.UpstreamTotal != 3*time.Second {
				t.Errorf("total %v", c.Resolver.UpstreamTotal)
			}
		}},
		{name: "role authoritative is the default", input: "meridian {\nrole authoritative\nfederation f\nttl 5\n}", check: func(t *testing.T, c *Config) {
			if c.Role != Authoritative {
				t.Errorf("role %v", c.Role)
			}
		}},
		{name: "no upstream", input: head + "in_cluster c\n}", wantErr: "missing 'upstream"},
		{name: "no cluster", input: head + "kubeconfig /k\nupstream 192.0.2.53\n}", wantErr: "which cluster is local?"},
		{name: "two contexts", input: head + "kubeconfig /k a b\nupstream 192.0.2.53\n}", wantErr: "which cluster is local?"},
		{name: "only the kube zone", input: "meridian myfed.svc.cluster.local {\nrole resolver\nfederation myfed\nin_cluster c\nupstream 192.0.2.53\n}",
			wantErr: "no federated zone"},
		{name: "bad upstream", input: head + "in_cluster c\nupstream ns1.example.org\n}", wantErr: `bad address "ns1.example.org"`},
		{name: "upstream port zero", input: head + "in_cluster c\nupstream 192.0.2.1:0\n}", wantErr: "bad address"},
		{name: "unknown role", input: "meridian {\nrole forwarder\n}", wantErr: `unknown role "forwarder"`},
		{name: "total below attempt", input: head + "upstream_timeout 2s 1s\n}", wantErr: "shorter than one attempt"},
		{name: "bad local_answer", input: head + "local_answer both\n}", wantErr: `want "local_answer address|cname"`},
		{name: "authoritative option in a resolver names its line", input: head + "in_cluster c\nupstream 192.0.2.53\n\nns ns1.example.org\n}",
			wantErr: "Testfile:7 - Error during parsing: ns: only for role authoritative, and this block is role resolver"},
		{name: "resolver option in an authoritative block", input: "meridian {\nfederation f\nlocal_ttl 3\n}",
			wantErr: "Testfile:3 - Error during parsing: local_ttl: only for role resolver"},
		{name: "probe in a resolver", input: head + "in_cluster c\nupstream 192.0.2.53\nprobe http\n}", wantErr: "probe: only for role authoritative"},
	})
}

package helm

// ValueSets are the value sets of the chart that its tests render: the
// plugin's tests parse each one's Corefile, test/kube applies each one's
// manifests to a real API server.
var ValueSets = map[string]map[string]any{
	"default":         nil,
	"nodeport":        {"service": map[string]any{"type": "NodePort", "nodePort": 30053}},
	"in-cluster only": {"members": map[string]any{"kubeconfigSecret": "", "inCluster": "home"}},
	"resolver": {"role": "resolver", "members": map[string]any{"kubeconfigSecret": "", "inCluster": "home"},
		"resolver": map[string]any{"localCluster": "home", "upstreams": []any{"10.0.0.53:53"}}},
	"everything": {
		"zones":       []any{"example.com", "example.net"},
		"nameservers": []any{map[string]any{"name": "ns1.example.com", "addresses": []any{"192.0.2.53", "2001:db8::53"}}},
		"hostmaster":  "hostmaster.example.com",
		"selector":    "federation.meridian.dev/name=myfederation",
		"namespaces":  []any{"default", "shop"},
		"geoip":       map[string]any{"enabled": true, "volume": map[string]any{"persistentVolumeClaim": map[string]any{"claimName": "geoip"}}},
		"settings": map[string]any{"policy": "failover", "failover": "us-central1, europe-west1", "min_ready": 2,
			"default_regions": []any{"us-central1", "europe-west1"}, "host_rule": []any{"example.com platform", "shop.example.com shop"},
			"probe": "http", "probe_path": "/healthz", "shard_metrics": "off", "stale_after": "15s", "cluster": []any{"c1 region eu zones a,b"}},
		"extraCorefile": "log\ncache 30",
	},
}

package helm

import (
	"embed"
	"path"

	"sigs.k8s.io/yaml"
)

//go:embed examples/*.yaml
var examples embed.FS

// ValueSets are the value sets of the chart that its tests render: the
// plugin's tests parse each one's Corefile, test/kube applies each one's
// manifests to a real API server. The files of examples/ are among them,
// as "example NAME.yaml".
var ValueSets = withExamples(map[string]map[string]any{
	"default": nil,
	// The helm install command of docs/operating.md, section 1.
	"docs/operating.md install": {"federation": "myfederation", "zones": []any{"example.com"},
		"nameservers": []any{map[string]any{"name": "ns1.example.com", "addresses": []any{"203.0.113.53"}}}},
	"tcp off":  {"tcp": map[string]any{"maxConnections": 0, "readTimeout": "2s", "idleTimeout": "30s"}},
	"nodeport": {"service": map[string]any{"type": "NodePort", "nodePort": 30055}},
	"monitoring on": {"monitoring": map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}},
		"podMonitor": map[string]any{"enabled": true}, "prometheusRule": map[string]any{"enabled": true}}},
	"in-cluster only": {"members": map[string]any{"kubeconfigSecret": "", "inCluster": "home"}},
	"resolver": {"role": "resolver", "service": map[string]any{"type": "ClusterIP"}, "members": map[string]any{"kubeconfigSecret": "", "inCluster": "home"},
		"resolver": map[string]any{"localCluster": "home", "upstreams": []any{"10.0.0.53:53"}}},
	// docs/dnssec.md: two keys during a rollover, in a Secret.
	"dnssec": {"dnssec": map[string]any{"enabled": true, "keySecret": "meridian-dnssec", "keys": []any{"ksk-2026", "ksk-2027"}}},
	"everything": {
		"zones":       []any{"example.com", "example.net"},
		"nameservers": []any{map[string]any{"name": "ns1.example.com", "addresses": []any{"192.0.2.53", "2001:db8::53"}}},
		"hostmaster":  "hostmaster.example.com",
		"selector":    "federation.meridian.dev/name=myfederation",
		"namespaces":  []any{"default", "shop"},
		"geoip":       map[string]any{"enabled": true, "volume": map[string]any{"persistentVolumeClaim": map[string]any{"claimName": "geoip"}}},
		"settings": map[string]any{"policy": "failover", "failover": "us-central1, europe-west1", "min_ready": 2,
			"default_regions": []any{"us-central1", "europe-west1"}, "host_rule": []any{"example.com platform", "shop.example.com shop"},
			"probe": "http", "probe_path": "/healthz", "shard_metrics": "off", "stale_after": "15s", "cluster": []any{"c1 region eu zones a,b"},
			"rrl": 50, "rrl_slip": 2, "rrl_exempt": []any{"10.0.0.0/8", "192.168.0.0/16"}},
		"extraCorefile": "log\ncache 30",
		"fastpath":      map[string]any{"enabled": true},
	},
})

// withExamples adds the value files of examples/ to sets.
func withExamples(sets map[string]map[string]any) map[string]map[string]any {
	files, err := examples.ReadDir("examples")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		b, err := examples.ReadFile(path.Join("examples", f.Name()))
		if err != nil {
			panic(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			panic("deploy/helm/examples/" + f.Name() + ": " + err.Error())
		}
		sets["example "+f.Name()] = v
	}
	return sets
}

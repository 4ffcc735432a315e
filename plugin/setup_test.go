package meridian

import (
	"os"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
)

// parseCase is one meridian block and what parse must make of it.
type parseCase struct {
	name    string
	input   string
	wantErr string // substring; "" means success
	check   func(*testing.T, *Config)
}

// runParse parses each case's block in a server block for example.org.
func runParse(t *testing.T, tests []parseCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", tc.input)
			c.ServerBlockKeys = []string{"example.org."}
			cfg, err := parse(c)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("parse: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("parse error %v, want one containing %q", err, tc.wantErr)
			case tc.check != nil:
				tc.check(t, cfg)
			}
		})
	}
}

func TestParse(t *testing.T) {
	runParse(t, []parseCase{
		{name: "minimal", input: "meridian example.com {\nfederation myfed\nmanifests ../testdata/demo\n}",
			check: func(t *testing.T, c *Config) {
				if c.Federation != "myfed" || c.Zones[0] != "example.com." || c.Authority.TTL != 30 || c.Build.Defaults.Shards != 1 || c.Build.Defaults.MinReady != 1 || !c.ShardMetrics {
					t.Errorf("defaults not applied: %+v", c)
				}
			}},
		{name: "every option", input: `meridian Example.COM {
			federation MyFed
			manifests ../testdata/demo 1s
			geoip x.mmdb 5m
			geoip_cache 1000
			ns ns1.example.com 192.0.2.53 2001:db8::53
			ns ns2.example.net
			hostmaster admin.example.com
			ttl 60
			negative_ttl 15
			shards 2
			min_ready 3
			default_regions us-central1 europe-west1
			cluster c1 region us-east1 zones a,b coordinates 1.5 -2.5
			shard_metrics off
		}`, check: func(t *testing.T, c *Config) {
			if c.Federation != "myfed" || c.Zones[0] != "example.com." || c.GeoIPCache != 1000 || c.GeoIPReload.Minutes() != 5 ||
				c.Authority.TTL != 60 || c.Authority.NegativeTTL != 15 || c.Build.Defaults.Shards != 2 || c.Build.Defaults.MinReady != 3 || c.ShardMetrics ||
				len(c.Authority.Nameservers) != 2 || len(c.Authority.Nameservers[0].Addrs) != 2 || c.Authority.Hostmaster != "admin.example.com." ||
				strings.Join(c.Authority.Answer.DefaultRegions, ",") != "us-central1,europe-west1" || c.ManifestInterval.Seconds() != 1 {
				t.Errorf("options not applied: %+v", c)
			}
			ov := c.Build.Overrides["c1"]
			if ov.Region != "us-east1" || strings.Join(ov.Zones, ",") != "a,b" || !ov.Located || ov.Point.Lat != 1.5 || ov.Point.Lon != -2.5 {
				t.Errorf("cluster override: %+v", ov)
			}
		}},
		{name: "kubernetes options", input: `meridian {
			federation f
			kubeconfig /a ctx-1 ctx-2=second
			kubeconfig /b
			in_cluster home
			selector app in (web, api),tier!=test
			namespaces default shop
			stale_after 5s
			down_after 1m
			startup_timeout 10s
		}`, check: func(t *testing.T, c *Config) {
			if strings.Join(c.Kubeconfigs, ",") != "/a,/b" || c.Contexts["ctx-1"] != "" || c.Contexts["ctx-2"] != "second" || len(c.Contexts) != 2 ||
				c.InCluster != "home" || c.selector() != "app in (web, api),tier!=test" || strings.Join(c.Namespaces, ",") != "default,shop" ||
				c.StaleAfter.Seconds() != 5 || c.DownAfter.Minutes() != 1 || c.StartupTimeout.Seconds() != 10 {
				t.Errorf("options not applied: %+v", c)
			}
		}},
		{name: "health options", input: `meridian {
			federation f
			degraded_ttl 2
			min_ready_fraction 50%
			spill 10
			rise 4
			fall 5
			passive_interval 1s
			probe http admin /healthz
			probe_interval 5s
			probe_timeout 1s
			probe_expect 200-204 all good
			probe_concurrency 16
			probe_networks 127.0.0.0/8 ::1/128
		}`, check: func(t *testing.T, c *Config) {
			d := c.Build.Defaults
			if c.Authority.DegradedTTL != 2 || d.MinReadyFraction != 0.5 || d.Spill != 0.1 || d.Probe.Rise != 4 || d.Probe.Fall != 5 ||
				c.PassiveInterval.Seconds() != 1 || d.Probe.Check.String() != "http" || d.ProbePortName != "admin" || d.Probe.Path != "/healthz" ||
				d.Probe.Interval.Seconds() != 5 || d.Probe.Timeout.Seconds() != 1 || d.Probe.ExpectLow != 200 || d.Probe.ExpectHigh != 204 ||
				d.Probe.Body != "all good" || c.ProbeConcurrency != 16 || len(c.ProbeNetworks) != 2 || c.ProbeNetworks[1].String() != "::1/128" {
				t.Errorf("options not applied: %+v %+v", c, d)
			}
		}},
		{name: "probe port number", input: "meridian {\nfederation f\nprobe tcp 8443\n}", check: func(t *testing.T, c *Config) {
			if p := c.Build.Defaults; p.Probe.Port != 8443 || p.ProbePortName != "" || p.Probe.Check.String() != "tcp" {
				t.Errorf("probe %+v %q", p.Probe, p.ProbePortName)
			}
		}},
		{name: "health defaults", input: "meridian {\nfederation f\n}", check: func(t *testing.T, c *Config) {
			if p := c.Build.Defaults; c.Authority.DegradedTTL != 5 || p.Probe.Check.String() != "off" || p.Probe.Rise != 2 || p.Probe.Fall != 3 || p.Spill != 0 {
				t.Errorf("defaults %+v ttl %d", p, c.Authority.DegradedTTL)
			}
		}},
		{name: "bad probe check", input: "meridian {\nfederation f\nprobe icmp\n}", wantErr: `want "probe off|tcp|http|https [PORT|PORT_NAME] [PATH]"`},
		{name: "bad probe path", input: "meridian {\nfederation f\nprobe http 80 healthz\n}", wantErr: `"healthz" is not a path that starts with /`},
		{name: "bad spill", input: "meridian {\nfederation f\nspill 150\n}", wantErr: `"150" is not a percentage from 0 to 100`},
		{name: "bad fraction", input: "meridian {\nfederation f\nmin_ready_fraction 1.5\n}", wantErr: "want \"min_ready_fraction"},
		{name: "bad network", input: "meridian {\nfederation f\nprobe_networks 127.0.0.1\n}", wantErr: `bad network "127.0.0.1"`},
		{name: "host rules", input: "meridian {\nfederation f\nhost_rule Example.com platform\nhost_rule shop.example.com. shop shop-staging\n}",
			check: func(t *testing.T, c *Config) {
				if r := c.Build.HostRules; len(r) != 2 || r[0].Suffix != "example.com." || r[1].Suffix != "shop.example.com." ||
					strings.Join(r[1].Namespaces, " ") != "shop shop-staging" {
					t.Errorf("host rules %+v", r)
				}
			}},
		{name: "host rule without namespaces", input: "meridian {\nfederation f\nhost_rule example.com\n}", wantErr: `want "host_rule SUFFIX NAMESPACE..."`},
		{name: "host rule bad namespace", input: "meridian {\nfederation f\nhost_rule example.com Shop_1\n}", wantErr: `namespace "Shop_1"`},
		{name: "host rule twice", input: "meridian {\nfederation f\nhost_rule example.com a\nhost_rule example.com. b\n}", wantErr: "has a rule already"},
		{name: "bad expect", input: "meridian {\nfederation f\nprobe_expect 600\n}", wantErr: `"600" is not an HTTP status range`},
		{name: "timeout above interval", input: "meridian {\nfederation f\nprobe_interval 1s\nprobe_timeout 2s\n}", wantErr: "probe settings"},
		{name: "rise zero", input: "meridian {\nfederation f\nrise 0\n}", wantErr: `want "rise N"`},
		{name: "default selector", input: "meridian {\nfederation f\n}", check: func(t *testing.T, c *Config) {
			if c.selector() != "federation.meridian.dev/name=f" {
				t.Errorf("selector %q", c.selector())
			}
		}},
		{name: "bad selector", input: "meridian {\nfederation f\nselector a==b==c\n}", wantErr: `want "selector LABEL_SELECTOR"`},
		{name: "bad context name", input: "meridian {\nfederation f\nkubeconfig /a ctx=bad.name\n}", wantErr: `bad context "ctx=bad.name"`},
		{name: "kubeconfig without path", input: "meridian {\nfederation f\nkubeconfig\n}", wantErr: "want \"kubeconfig PATH"},
		{name: "bad stale_after", input: "meridian {\nfederation f\nstale_after 0s\n}", wantErr: "not a positive duration"},
		{name: "zones from the server block", input: "meridian {\nfederation f\nmanifests d\n}",
			check: func(t *testing.T, c *Config) {
				if len(c.Zones) != 1 || c.Zones[0] != "example.org." {
					t.Errorf("zones %v, want the server block's", c.Zones)
				}
			}},
		{name: "no federation", input: "meridian {\nmanifests d\n}", wantErr: "missing 'federation NAME'"},
		{name: "unknown property", input: "meridian {\nfederation f\nbogus 1\n}", wantErr: `unknown property "bogus"`},
		{name: "tcp cap", input: "meridian {\nfederation f\nmax_tcp_connections 150\n}",
			check: func(t *testing.T, c *Config) {
				if c.MaxTCPConnections != 150 {
					t.Errorf("max_tcp_connections %d, want 150", c.MaxTCPConnections)
				}
			}},
		{name: "tcp cap in the resolver role", input: "meridian {\nrole resolver\nfederation f\nlocal_cluster a\nupstream 127.0.0.1\nmax_tcp_connections 10\n}",
			check: func(t *testing.T, c *Config) {
				if c.MaxTCPConnections != 10 {
					t.Errorf("max_tcp_connections %d, want 10", c.MaxTCPConnections)
				}
			}},
		{name: "fast path receive buffer", input: "meridian {\nfederation f\nfastpath\nfastpath_rcvbuf 1048576\n}",
			check: func(t *testing.T, c *Config) {
				if c.FastPathRcvbuf != 1<<20 {
					t.Errorf("fastpath_rcvbuf %d, want 1048576", c.FastPathRcvbuf)
				}
			}},
		{name: "fast path receive buffer by default", input: "meridian {\nfederation f\nfastpath\n}",
			check: func(t *testing.T, c *Config) {
				if c.FastPathRcvbuf != 1<<20 {
					t.Errorf("fastpath_rcvbuf %d, want 1 MiB by default", c.FastPathRcvbuf)
				}
			}},
		{name: "fast path receive buffer as a size", input: "meridian {\nfederation f\nfastpath_rcvbuf 4M\n}", wantErr: `want "fastpath_rcvbuf BYTES"`},
		{name: "fast path receive buffer in the resolver role", input: "meridian {\nrole resolver\nfederation f\nlocal_cluster a\nupstream 127.0.0.1\nfastpath_rcvbuf 0\n}", wantErr: "fastpath_rcvbuf: only for role authoritative"},
		{name: "tcp cap zero", input: "meridian {\nfederation f\nmax_tcp_connections 0\n}", wantErr: `"0" is not a whole number from 1 to 1048576`},
		{name: "tcp cap missing", input: "meridian {\nfederation f\nmax_tcp_connections\n}", wantErr: `want "max_tcp_connections MAXIMUM"`},
		{name: "bad ttl", input: "meridian {\nfederation f\nttl -1\n}", wantErr: `want "ttl SECONDS"`},
		{name: "ttl too long", input: "meridian {\nfederation f\nttl 90000\n}", wantErr: "from 0 to 86400"},
		{name: "shards zero", input: "meridian {\nfederation f\nshards 0\n}", wantErr: `want "shards N"`},
		{name: "min_ready zero", input: "meridian {\nfederation f\nmin_ready 0\n}", wantErr: "from 1 to"},
		{name: "federation svc", input: "meridian {\nfederation svc\n}", wantErr: `want "federation NAME"`},
		{name: "federation two words", input: "meridian {\nfederation a b\n}", wantErr: "wrong arguments"},
		{name: "bad ns address", input: "meridian {\nfederation f\nns ns1.example.com 300.1.1.1\n}", wantErr: `bad address "300.1.1.1"`},
		{name: "bad interval", input: "meridian {\nfederation f\nmanifests d forever\n}", wantErr: "not a positive duration"},
		{name: "cluster coordinates out of range", input: "meridian {\nfederation f\ncluster c coordinates 91 0\n}", wantErr: "bad coordinates"},
		{name: "cluster unknown key", input: "meridian {\nfederation f\ncluster c colour blue\n}", wantErr: `unexpected "colour"`},
		{name: "cluster nothing", input: "meridian {\nfederation f\ncluster c\n}", wantErr: "want \"cluster NAME"},
		{name: "cluster given twice", input: "meridian {\nfederation f\ncluster c region us-central1\ncluster c zones a\n}", wantErr: `cluster "c" given twice`},
		{name: "shard_metrics maybe", input: "meridian {\nfederation f\nshard_metrics maybe\n}", wantErr: "on|off"},
		{name: "twice", input: "meridian {\nfederation f\n}\nmeridian {\nfederation g\n}", wantErr: "this plugin"},
		{name: "line number in errors", input: "meridian {\nfederation f\n\nttl x\n}", wantErr: "Testfile:4"},
	})
}

// TestCorefileExample parses the meridian block of Corefile.example and
// builds the plugin from it, as `make run` does.
func TestCorefileExample(t *testing.T) {
	b, err := os.ReadFile("../Corefile.example")
	if err != nil {
		t.Fatal(err)
	}
	directives := append([]string{"meridian"}, dnsserver.Directives...)
	blocks, err := caddyfile.Parse("Corefile.example", strings.NewReader(string(b)), directives)
	if err != nil || len(blocks) != 2 {
		t.Fatalf("Corefile.example: %v (%d blocks, want the authority and the resolver)", err, len(blocks))
	}
	for i, role := range []Role{Authoritative, Resolver} {
		input := lineBreaks(blocks[i].Tokens["meridian"])
		c := caddy.NewTestController("dns", input)
		c.ServerBlockKeys = blocks[i].Keys
		cfg, err := parse(c)
		if err != nil {
			t.Fatalf("parse Corefile.example block %d: %v", i, err)
		}
		if cfg.Federation != "myfederation" || cfg.Zones[0] != "example.com." || cfg.Role != role {
			t.Errorf("unexpected config %+v", cfg)
		}
		cfg.Manifests = "../" + cfg.Manifests
		if cfg.GeoIP != "" {
			cfg.GeoIP = "../" + cfg.GeoIP
		}
		m, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		m.locator.Stop()
	}
}

// lineBreaks rebuilds a block's text from its tokens, one line per line.
func lineBreaks(toks []caddyfile.Token) string {
	var b strings.Builder
	line := toks[0].Line
	for _, tok := range toks {
		if tok.Line != line {
			b.WriteString("\n")
			line = tok.Line
		}
		b.WriteString(tok.Text + " ")
	}
	return b.String()
}

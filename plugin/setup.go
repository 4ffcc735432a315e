package meridian

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/internal/dnsname"
	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/hosts"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/status"
)

const pluginName = "meridian"

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	m, err := New(cfg)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	c.OnStartup(m.Start)
	c.OnShutdown(m.Stop)
	conf := dnsserver.GetConfig(c)
	// Let every opcode reach the handler, which answers those other than
	// QUERY and NOTIFY with NOTIMP itself: the server's own NOTIMP has no
	// OPT record (RFC 6891 sections 6.1.1 and 7).
	for op := range 16 {
		if op != dns.OpcodeQuery && op != dns.OpcodeNotify {
			conf.AllowOpcode(op)
		}
	}
	conf.AddPlugin(func(next plugin.Handler) plugin.Handler {
		m.Next = next
		return m
	})
	if cfg.FastPath != 0 {
		setupFastPath(c, m, conf)
	}
	if cfg.MaxTCPConnections > 0 {
		setupTCPCap(c, m, conf)
	}
	return nil
}

// parse reads one meridian block. It opens nothing and starts nothing.
func parse(c *caddy.Controller) (*Config, error) {
	cfg := newConfig()
	var lines []line
	i := 0
	for c.Next() {
		if i > 0 {
			return nil, plugin.ErrOnce
		}
		i++
		cfg.Zones = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for c.NextBlock() {
			prop, ok := properties[c.Val()]
			if !ok {
				prop, ok = healthProperties[c.Val()]
			}
			if !ok {
				prop, ok = resolverProperties[c.Val()]
			}
			if !ok {
				prop, ok = rrlProperties[c.Val()]
			}
			if !ok {
				return nil, c.Errf("unknown property %q", c.Val())
			}
			name := c.Val()
			lines = append(lines, line{name, c.File(), c.Line()})
			if err := prop.parse(c, cfg, c.RemainingArgs()); err != nil {
				// The property's name, not c.Val(): that is its last argument now.
				return nil, c.Errf("%s: %v; want %q", name, err, prop.form)
			}
		}
	}
	if cfg.Federation == "" {
		return nil, c.Err("missing 'federation NAME'")
	}
	if err := cfg.Build.Defaults.Probe.Validate(); err != nil {
		return nil, c.Errf("probe settings: %v; want probe_timeout at most probe_interval", err)
	}
	for _, l := range lines {
		if r, ok := roleOnly[l.name]; ok && r != cfg.Role {
			return nil, fmt.Errorf("%s:%d - Error during parsing: %s: only for role %s, and this block is role %s", l.file, l.line, l.name, r, cfg.Role)
		}
	}
	if err := checkDefaults(cfg); err != nil {
		return nil, c.Err(err.Error())
	}
	if err := finishRRL(cfg, lines); err != nil {
		return nil, err
	}
	if cfg.Role == Resolver {
		if err := checkResolver(cfg); err != nil {
			return nil, c.Errf("role resolver: %v", err)
		}
	}
	return cfg, nil
}

// line is where a property was set, for errors found after the block.
type line struct {
	name, file string
	line       int
}

// property is one line of the block: its expected form and its parser.
type property struct {
	form  string
	parse func(c *caddy.Controller, cfg *Config, args []string) error
}

var properties = map[string]property{
	"federation": {"federation NAME", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 || !isLabel(a[0]) || a[0] == "svc" {
			return errArgs(a)
		}
		cfg.Federation = strings.ToLower(a[0])
		return nil
	}},
	"manifests": {"manifests DIR [INTERVAL]", func(c *caddy.Controller, cfg *Config, a []string) error {
		if len(a) < 1 || len(a) > 2 {
			return errArgs(a)
		}
		cfg.Manifests = a[0]
		if len(a) == 2 {
			return parseDuration(a[1], &cfg.ManifestInterval)
		}
		return nil
	}},
	"geoip": {"geoip MMDB [RELOAD_INTERVAL]", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) < 1 || len(a) > 2 {
			return errArgs(a)
		}
		cfg.GeoIP, cfg.GeoIPReload = a[0], defaultGeoIPReload
		if len(a) == 2 {
			return parseDuration(a[1], &cfg.GeoIPReload)
		}
		return nil
	}},
	"ecs_scope": {"ecs_scope network|widened", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 || (a[0] != "network" && a[0] != "widened") {
			return errArgs(a)
		}
		cfg.WidenScopes = a[0] == "widened"
		return nil
	}},
	"geoip_cache": {"geoip_cache ENTRIES", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 1<<24, &cfg.GeoIPCache)
	}},
	"ns": {"ns NAME [ADDRESS...]", parseNS},
	"hostmaster": {"hostmaster NAME", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 || !isDomain(a[0]) {
			return errArgs(a)
		}
		cfg.Authority.Hostmaster = dns.Fqdn(strings.ToLower(a[0]))
		return nil
	}},
	"ttl": {"ttl SECONDS", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseTTL(a, &cfg.Authority.TTL)
	}},
	"negative_ttl": {"negative_ttl SECONDS", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseTTL(a, &cfg.Authority.NegativeTTL)
	}},
	"default_regions": {"default_regions REGION...", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) == 0 {
			return errArgs(a)
		}
		for _, r := range a {
			if !isLabel(r) {
				return fmt.Errorf("bad region %q", r)
			}
			cfg.Authority.Answer.DefaultRegions = append(cfg.Authority.Answer.DefaultRegions, strings.ToLower(r))
		}
		return nil
	}},
	"kubeconfig": {"kubeconfig PATH [CONTEXT[=CLUSTER]...]", parseKubeconfig},
	"in_cluster": {"in_cluster CLUSTER", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 || !isLabel(a[0]) {
			return errArgs(a)
		}
		cfg.InCluster = a[0]
		return nil
	}},
	"selector": {"selector LABEL_SELECTOR", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) == 0 {
			return errArgs(a)
		}
		sel := strings.Join(a, " ")
		if _, err := labels.Parse(sel); err != nil {
			return err
		}
		cfg.Selector = sel
		return nil
	}},
	"namespaces": {"namespaces NAMESPACE...", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) == 0 {
			return errArgs(a)
		}
		cfg.Namespaces = append(cfg.Namespaces, a...)
		return nil
	}},
	"stale_after": {"stale_after DURATION", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseDurationArg(a, &cfg.StaleAfter)
	}},
	"down_after": {"down_after DURATION", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseDurationArg(a, &cfg.DownAfter)
	}},
	"startup_timeout": {"startup_timeout DURATION", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseDurationArg(a, &cfg.StartupTimeout)
	}},
	"cluster":       {"cluster NAME [region REGION] [zones ZONE[,ZONE...]] [coordinates LAT LON]", parseCluster},
	"shard_metrics": {"shard_metrics on|off", parseOnOff},
	"host_rule":     {"host_rule SUFFIX NAMESPACE...", parseHostRule},
	"status":        {"status [ADDRESS] [remote]", parseStatus},
	"fastpath": {"fastpath [SOCKETS]", func(_ *caddy.Controller, cfg *Config, a []string) error {
		cfg.FastPath = -1 // one socket per CPU the process may use
		if len(a) == 0 {
			return nil
		}
		return parseInt(a, 1, 1024, &cfg.FastPath)
	}},
	"fastpath_rcvbuf": {"fastpath_rcvbuf BYTES", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 0, 1<<30, &cfg.FastPathRcvbuf)
	}},
	"max_tcp_connections": {"max_tcp_connections MAXIMUM", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 1<<20, &cfg.MaxTCPConnections)
	}},
}

// parseStatus reads the status listener's line: a host:port (loopback
// unless 'remote' follows), 127.0.0.1:8053 when none is given.
func parseStatus(_ *caddy.Controller, cfg *Config, a []string) error {
	cfg.Status = &status.Config{Addr: status.DefaultAddr}
	if len(a) > 0 && a[len(a)-1] == "remote" {
		cfg.Status.Remote = true
		a = a[:len(a)-1]
	}
	switch len(a) {
	case 0:
	case 1:
		cfg.Status.Addr = a[0]
	default:
		return errArgs(a)
	}
	return status.CheckAddr(cfg.Status.Addr, cfg.Status.Remote)
}

func parseNS(_ *caddy.Controller, cfg *Config, a []string) error {
	if len(a) < 1 || !isDomain(a[0]) {
		return errArgs(a)
	}
	ns := authority.Nameserver{Name: dns.Fqdn(strings.ToLower(a[0]))}
	for _, s := range a[1:] {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("bad address %q", s)
		}
		ns.Addrs = append(ns.Addrs, ip.Unmap())
	}
	cfg.Authority.Nameservers = append(cfg.Authority.Nameservers, ns)
	return nil
}

func parseKubeconfig(_ *caddy.Controller, cfg *Config, a []string) error {
	if len(a) == 0 {
		return errArgs(a)
	}
	cfg.Kubeconfigs = append(cfg.Kubeconfigs, a[0])
	for _, c := range a[1:] {
		ctx, name, _ := strings.Cut(c, "=")
		if ctx == "" || (name != "" && !isLabel(name)) {
			return fmt.Errorf("bad context %q", c)
		}
		if cfg.Contexts == nil {
			cfg.Contexts = map[string]string{}
		}
		cfg.Contexts[ctx] = name
	}
	return nil
}

func parseDurationArg(a []string, dst *time.Duration) error {
	if len(a) != 1 {
		return errArgs(a)
	}
	return parseDuration(a[0], dst)
}

func parseCluster(_ *caddy.Controller, cfg *Config, a []string) error {
	if len(a) < 3 || !isLabel(a[0]) {
		return errArgs(a)
	}
	if _, dup := cfg.Build.Overrides[a[0]]; dup {
		return fmt.Errorf("cluster %q given twice: put all its settings on one line", a[0])
	}
	ov := model.Override{}
	for rest := a[1:]; len(rest) > 0; {
		switch {
		case rest[0] == "region" && len(rest) >= 2 && isLabel(rest[1]):
			ov.Region, rest = strings.ToLower(rest[1]), rest[2:]
		case rest[0] == "zones" && len(rest) >= 2:
			for _, z := range strings.Split(rest[1], ",") {
				if !isLabel(z) {
					return fmt.Errorf("bad zone %q", z)
				}
				ov.Zones = append(ov.Zones, strings.ToLower(z))
			}
			rest = rest[2:]
		case rest[0] == "coordinates" && len(rest) >= 3:
			lat, err1 := strconv.ParseFloat(rest[1], 64)
			lon, err2 := strconv.ParseFloat(rest[2], 64)
			if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
				return fmt.Errorf("bad coordinates %q %q", rest[1], rest[2])
			}
			ov.Point, ov.Located, rest = geo.Point{Lat: lat, Lon: lon}, true, rest[3:]
		default:
			return fmt.Errorf("unexpected %q", rest[0])
		}
	}
	cfg.Build.Overrides[a[0]] = ov
	return nil
}

func parseOnOff(_ *caddy.Controller, cfg *Config, a []string) error {
	if len(a) != 1 || (a[0] != "on" && a[0] != "off") {
		return errArgs(a)
	}
	cfg.ShardMetrics = a[0] == "on"
	return nil
}

func parseTTL(a []string, dst *uint32) error {
	var n int
	if err := parseInt(a, 0, 86400, &n); err != nil {
		return err
	}
	*dst = uint32(n)
	return nil
}

func parseInt(a []string, lo, hi int, dst *int) error {
	if len(a) != 1 {
		return errArgs(a)
	}
	n, err := strconv.Atoi(a[0])
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("%q is not a whole number from %d to %d", a[0], lo, hi)
	}
	*dst = n
	return nil
}

func parseDuration(s string, dst *time.Duration) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration such as 30s", s)
	}
	*dst = d
	return nil
}

// parseHostRule reads "host_rule SUFFIX NAMESPACE...": only these
// namespaces may claim the hosts of Ingresses and routes at or below
// SUFFIX (hosts.Allowed; the longest matching suffix decides).
func parseHostRule(_ *caddy.Controller, cfg *Config, a []string) error {
	if len(a) < 2 || !isDomain(a[0]) {
		return errArgs(a)
	}
	r := hosts.Rule{Suffix: dns.Fqdn(strings.ToLower(a[0]))}
	for _, ns := range a[1:] {
		if !isLabel(ns) || slices.Contains(r.Namespaces, ns) {
			return fmt.Errorf("namespace %q: not a namespace name, or given twice", ns)
		}
		r.Namespaces = append(r.Namespaces, ns)
	}
	for _, old := range cfg.Build.HostRules {
		if old.Suffix == r.Suffix {
			return fmt.Errorf("suffix %s has a rule already", a[0])
		}
	}
	cfg.Build.HostRules = append(cfg.Build.HostRules, r)
	return nil
}

func errArgs(a []string) error {
	return fmt.Errorf("wrong arguments %q", a)
}

// isLabel reports whether s is one DNS label of letters (either case),
// digits and inner hyphens: the rule of internal/dnsname.
func isLabel(s string) bool {
	return dnsname.IsLabel(s)
}

// isDomain reports whether s is a domain name of such labels, with or
// without its trailing dot.
func isDomain(s string) bool {
	return dnsname.IsDomain(s)
}

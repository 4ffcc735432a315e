package meridian

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/policy"
)

// resolverProperties are the lines of the block that choose the role and
// configure the resolver role.
var resolverProperties = map[string]property{
	"role": {"role authoritative|resolver", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 {
			return errArgs(a)
		}
		switch a[0] {
		case "authoritative":
			cfg.Role = Authoritative
		case "resolver":
			cfg.Role = Resolver
		default:
			return fmt.Errorf("unknown role %q", a[0])
		}
		return nil
	}},
	"local_cluster": {"local_cluster CLUSTER", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 || !isLabel(a[0]) {
			return errArgs(a)
		}
		cfg.Resolver.Cluster = a[0]
		return nil
	}},
	"upstream": {"upstream ADDRESS[:PORT]...", parseUpstream},
	"upstream_timeout": {"upstream_timeout ATTEMPT [TOTAL]", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) < 1 || len(a) > 2 {
			return errArgs(a)
		}
		r := &cfg.Resolver
		if err := parseDuration(a[0], &r.UpstreamTimeout); err != nil {
			return err
		}
		r.UpstreamTotal = 2 * r.UpstreamTimeout
		if len(a) == 2 {
			if err := parseDuration(a[1], &r.UpstreamTotal); err != nil {
				return err
			}
		}
		if r.UpstreamTotal < r.UpstreamTimeout {
			return fmt.Errorf("total %v is shorter than one attempt %v", r.UpstreamTotal, r.UpstreamTimeout)
		}
		return nil
	}},
	"upstream_cache": {"upstream_cache ENTRIES", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 0, 1<<24, &cfg.Resolver.UpstreamCache)
	}},
	"cluster_domain": {"cluster_domain DOMAIN", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 || !isDomain(a[0]) {
			return errArgs(a)
		}
		cfg.Resolver.ClusterDomain = dns.Fqdn(strings.ToLower(a[0]))
		return nil
	}},
	"local_answer": {"local_answer address|cname", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 || (a[0] != "address" && a[0] != "cname") {
			return errArgs(a)
		}
		cfg.Resolver.LocalCNAME = a[0] == "cname"
		return nil
	}},
	"local_ttl": {"local_ttl SECONDS", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseTTL(a, &cfg.Resolver.LocalTTL)
	}},
}

// roleOnly names the properties that mean something in one role only; a
// block of the other role that sets one is an error, not a silent no-op.
// The per-service settings' lines are added from their Roles.
var roleOnly = withSettingRoles(map[string]Role{
	"ns":                Authoritative,
	"hostmaster":        Authoritative,
	"ttl":               Authoritative,
	"negative_ttl":      Authoritative,
	"degraded_ttl":      Authoritative,
	"geoip":             Authoritative,
	"geoip_cache":       Authoritative,
	"ecs_scope":         Authoritative,
	"default_regions":   Authoritative,
	"probe_concurrency": Authoritative,
	"probe_networks":    Authoritative,
	"fastpath":          Authoritative,
	"fastpath_rcvbuf":   Authoritative,
	"rrl":               Authoritative,
	"rrl_nxdomains":     Authoritative,
	"rrl_errors":        Authoritative,
	"rrl_slip":          Authoritative,
	"rrl_prefix":        Authoritative,
	"rrl_exempt":        Authoritative,
	"rrl_table":         Authoritative,
	"rrl_log_only":      Authoritative,
	"local_cluster":     Resolver,
	"upstream":          Resolver,
	"upstream_timeout":  Resolver,
	"upstream_cache":    Resolver,
	"cluster_domain":    Resolver,
	"local_answer":      Resolver,
	"local_ttl":         Resolver,
})

// withSettingRoles adds to only the lines of the per-service settings that
// one role alone reads.
func withSettingRoles(only map[string]Role) map[string]Role {
	for _, s := range policy.Settings() {
		switch s.Roles {
		case policy.Authoritative:
			only[s.Corefile] = Authoritative
		case policy.Resolver:
			only[s.Corefile] = Resolver
		}
	}
	return only
}

// parseUpstream reads upstream servers: each argument is one address or a
// list separated by spaces or commas (so that one environment variable can
// hold them all), with port 53 unless given.
func parseUpstream(_ *caddy.Controller, cfg *Config, a []string) error {
	if len(a) == 0 {
		return errArgs(a)
	}
	for _, arg := range a {
		for _, s := range strings.FieldsFunc(arg, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			ap, err := upstreamAddr(s)
			if err != nil {
				return err
			}
			cfg.Resolver.Upstreams = append(cfg.Resolver.Upstreams, ap.String())
		}
	}
	if len(cfg.Resolver.Upstreams) == 0 {
		return errors.New("no address")
	}
	return nil
}

// upstreamAddr parses "IP", "IP:PORT", "[IPv6]:PORT" or "IPv6".
func upstreamAddr(s string) (netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return netip.AddrPortFrom(ip.Unmap(), 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("bad address %q: want an IP address, optionally with a port", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// checkResolver checks what a resolver block needs and names its cluster.
func checkResolver(cfg *Config) error {
	r := &cfg.Resolver
	if len(r.Upstreams) == 0 {
		return errors.New("missing 'upstream ADDRESS[:PORT]...' (the authoritative Meridian servers)")
	}
	if r.Cluster == "" {
		r.Cluster = soleCluster(cfg)
	}
	if r.Cluster == "" {
		return errors.New("which cluster is local? use 'in_cluster CLUSTER', 'kubeconfig PATH CONTEXT[=CLUSTER]' with one context, or 'local_cluster CLUSTER'")
	}
	kz, domains := cfg.kubeZone(), 0
	for _, z := range cfg.Zones {
		if z != kz {
			domains++
		}
	}
	if domains == 0 {
		return fmt.Errorf("no federated zone: the zones are %s; add the federation's domain", strconv.Quote(strings.Join(cfg.Zones, " ")))
	}
	return nil
}

// soleCluster is the name of the one cluster the sources name, or "".
func soleCluster(cfg *Config) string {
	switch {
	case cfg.InCluster != "" && len(cfg.Kubeconfigs) == 0:
		return cfg.InCluster
	case cfg.InCluster == "" && len(cfg.Kubeconfigs) == 1 && len(cfg.Contexts) == 1:
		for ctx, name := range cfg.Contexts {
			if name == "" {
				return ctx
			}
			return name
		}
	}
	return ""
}

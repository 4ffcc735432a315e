package meridian

import (
	"fmt"
	"net/netip"

	"github.com/coredns/caddy"

	"github.com/meridian-dns/meridian/plugin/policy"
)

// healthProperties are the lines of the block that tune health checking,
// and a line per setting of policy.Settings that sets the default policy
// of every service (its annotation overrides it per service).
var healthProperties = withSettings(map[string]property{
	"passive_interval": {"passive_interval DURATION", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseDurationArg(a, &cfg.PassiveInterval)
	}},
	"degraded_ttl": {"degraded_ttl SECONDS", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseTTL(a, &cfg.Authority.DegradedTTL)
	}},
	"probe_concurrency": {"probe_concurrency N", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 4096, &cfg.ProbeConcurrency)
	}},
	"probe_networks": {"probe_networks CIDR...", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) == 0 {
			return errArgs(a)
		}
		for _, s := range a {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("bad network %q", s)
			}
			cfg.ProbeNetworks = append(cfg.ProbeNetworks, p.Masked())
		}
		return nil
	}},
})

// withSettings adds to props a line per per-service setting, read with
// the setting's own parser into the default policy.
func withSettings(props map[string]property) map[string]property {
	for _, s := range policy.Settings() {
		props[s.Corefile] = property{s.CorefileForm(), func(_ *caddy.Controller, cfg *Config, a []string) error {
			return s.SetCorefile(&cfg.Build.Defaults, a)
		}}
	}
	return props
}

// checkDefaults checks the default policy as a whole, after every line:
// a policy whose kind lacks its list.
func checkDefaults(cfg *Config) error {
	return policy.CheckDefaults(cfg.Build.Defaults)
}

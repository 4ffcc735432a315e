package meridian

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/coredns/caddy"

	"github.com/meridian-dns/meridian/health"
)

// healthProperties are the lines of the block that set the default policy
// of every service (annotations override them per service) and tune
// health checking.
var healthProperties = map[string]property{
	"shards": {"shards N", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 64, &cfg.Build.Defaults.Shards)
	}},
	"min_ready": {"min_ready N", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 1<<20, &cfg.Build.Defaults.MinReady)
	}},
	"min_ready_fraction": {"min_ready_fraction FRACTION|PERCENT%", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 {
			return errArgs(a)
		}
		return parseShare(a[0], false, &cfg.Build.Defaults.MinReadyFraction)
	}},
	"spill": {"spill PERCENT", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 1 {
			return errArgs(a)
		}
		return parseShare(a[0], true, &cfg.Build.Defaults.Spill)
	}},
	"rise": {"rise N", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 100, &cfg.Build.Defaults.Probe.Rise)
	}},
	"fall": {"fall N", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 100, &cfg.Build.Defaults.Probe.Fall)
	}},
	"passive_interval": {"passive_interval DURATION", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseDurationArg(a, &cfg.PassiveInterval)
	}},
	"degraded_ttl": {"degraded_ttl SECONDS", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseTTL(a, &cfg.Authority.DegradedTTL)
	}},
	"probe": {"probe off|tcp|http|https [PORT|PORT_NAME] [PATH]", parseProbe},
	"probe_interval": {"probe_interval DURATION", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseDurationArg(a, &cfg.Build.Defaults.Probe.Interval)
	}},
	"probe_timeout": {"probe_timeout DURATION", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseDurationArg(a, &cfg.Build.Defaults.Probe.Timeout)
	}},
	"probe_expect": {"probe_expect STATUS[-STATUS] [BODY_SUBSTRING]", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) < 1 {
			return errArgs(a)
		}
		p := &cfg.Build.Defaults.Probe
		var err error
		if p.ExpectLow, p.ExpectHigh, err = health.ParseExpect(a[0]); err != nil {
			return err
		}
		p.Body = strings.Join(a[1:], " ")
		return nil
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
}

// parseProbe reads "probe CHECK [PORT|PORT_NAME] [PATH]".
func parseProbe(_ *caddy.Controller, cfg *Config, a []string) error {
	if len(a) < 1 || len(a) > 3 {
		return errArgs(a)
	}
	d := &cfg.Build.Defaults
	check, err := health.ParseCheck(a[0])
	if err != nil {
		return err
	}
	d.Probe.Check = check
	if len(a) >= 2 {
		if n, err := strconv.ParseUint(a[1], 10, 16); err == nil && n > 0 {
			d.Probe.Port, d.ProbePortName = uint16(n), ""
		} else if isLabel(a[1]) {
			d.Probe.Port, d.ProbePortName = 0, strings.ToLower(a[1])
		} else {
			return fmt.Errorf("bad port %q", a[1])
		}
	}
	if len(a) == 3 {
		if !strings.HasPrefix(a[2], "/") {
			return fmt.Errorf("path %q does not start with /", a[2])
		}
		d.Probe.Path = a[2]
	}
	return nil
}

// parseShare reads a share: "50%" or, unless percent, "0.5"; with percent
// a bare number is a percentage ("10" is 10%).
func parseShare(s string, percent bool, dst *float64) error {
	num, pct := strings.CutSuffix(s, "%")
	f, err := strconv.ParseFloat(num, 64)
	if pct || percent {
		f /= 100
	}
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("%q is not a share from 0 to 1 or 0%% to 100%%", s)
	}
	*dst = f
	return nil
}

package meridian

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/coredns/caddy"

	"github.com/meridian-dns/meridian/plugin/rrl"
)

// rrlProperties are the lines of response rate limiting (package rrl,
// docs/rrl.md). `rrl RATE` turns it on; the others tune it and need it.
var rrlProperties = map[string]property{
	"rrl": {"rrl RESPONSES_PER_SECOND", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseRate(a, &rrlOf(cfg).Responses)
	}},
	"rrl_nxdomains": {"rrl_nxdomains PER_SECOND", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseRate(a, &rrlOf(cfg).NXDomains)
	}},
	"rrl_errors": {"rrl_errors PER_SECOND", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseRate(a, &rrlOf(cfg).Errors)
	}},
	"rrl_slip": {"rrl_slip N", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 0, 10, &rrlOf(cfg).Slip)
	}},
	"rrl_prefix": {"rrl_prefix IPV4_LENGTH IPV6_LENGTH", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 2 {
			return errArgs(a)
		}
		c := rrlOf(cfg)
		if err := parseInt(a[:1], 0, 32, &c.Prefix4); err != nil {
			return err
		}
		return parseInt(a[1:], 0, 128, &c.Prefix6)
	}},
	"rrl_exempt": {"rrl_exempt CIDR...", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) == 0 {
			return errArgs(a)
		}
		c := rrlOf(cfg)
		for _, s := range a {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("%q is not a network such as 192.0.2.0/24", s)
			}
			c.Exempt = append(c.Exempt, p.Masked())
		}
		return nil
	}},
	"rrl_table": {"rrl_table ENTRIES", func(_ *caddy.Controller, cfg *Config, a []string) error {
		return parseInt(a, 1, 1<<24, &rrlOf(cfg).Table)
	}},
	"rrl_log_only": {"rrl_log_only", func(_ *caddy.Controller, cfg *Config, a []string) error {
		if len(a) != 0 {
			return errArgs(a)
		}
		rrlOf(cfg).LogOnly = true
		return nil
	}},
}

// unsetRate marks a rate no line has given yet (finishRRL).
const unsetRate = -1

// rrlOf returns the block's rate limiting settings, BIND's defaults with
// no rate given, made on the first line that sets one.
func rrlOf(cfg *Config) *rrl.Config {
	if cfg.RRL == nil {
		c := rrl.Defaults(unsetRate)
		cfg.RRL = &c
	}
	return cfg.RRL
}

// parseRate reads a number of replies per second; 0 means unlimited.
func parseRate(a []string, dst *int) error {
	if len(a) != 1 {
		return errArgs(a)
	}
	n, err := strconv.Atoi(a[0])
	if err != nil || n < 0 || n > 1_000_000 {
		return fmt.Errorf("%q is not a number of replies per second from 0 (unlimited) to 1000000", a[0])
	}
	*dst = n
	return nil
}

// finishRRL checks the rate limiting lines as a whole once the block is
// read: the rrl_ lines need `rrl`, and nxdomains and errors follow its
// rate unless given. The error names the first rrl line.
func finishRRL(cfg *Config, lines []line) error {
	c := cfg.RRL
	if c == nil {
		return nil
	}
	first := lines[0]
	for _, l := range lines {
		if _, ok := rrlProperties[l.name]; ok {
			first = l
			break
		}
	}
	if c.Responses == unsetRate {
		return fmt.Errorf("%s:%d - Error during parsing: %s: response rate limiting needs its rate; want %q", first.file, first.line, first.name, rrlProperties["rrl"].form)
	}
	for _, r := range []*int{&c.NXDomains, &c.Errors} {
		if *r == unsetRate {
			*r = c.Responses
		}
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s:%d - Error during parsing: %s: %v", first.file, first.line, first.name, err)
	}
	return nil
}

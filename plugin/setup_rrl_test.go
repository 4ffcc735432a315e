package meridian

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/meridian-dns/meridian/plugin/rrl"
)

func TestParseRRL(t *testing.T) {
	block := func(lines string) string { return "meridian {\nfederation f\nmanifests d\n" + lines + "}" }
	runParse(t, []parseCase{
		{name: "off by default", input: block(""), check: func(t *testing.T, c *Config) {
			if c.RRL != nil {
				t.Errorf("RRL %+v, want none", c.RRL)
			}
		}},
		{name: "rate alone: BIND's defaults", input: block("rrl 10\n"), check: func(t *testing.T, c *Config) {
			if c.RRL == nil || c.RRL.Responses != 10 || c.RRL.NXDomains != 10 || c.RRL.Errors != 10 ||
				c.RRL.Slip != 2 || c.RRL.Prefix4 != 24 || c.RRL.Prefix6 != 56 || c.RRL.Table != 100_000 || c.RRL.LogOnly {
				t.Errorf("RRL %+v, want rate 10 for every class, slip 2, /24 and /56, a table of 100,000", c.RRL)
			}
		}},
		{name: "every line, in any order", input: block("rrl_slip 3\nrrl_nxdomains 5\nrrl_errors 0\nrrl 20\nrrl_prefix 32 64\nrrl_exempt 10.0.0.1/8 2001:db8::/32\nrrl_table 5000\nrrl_log_only\n"),
			check: func(t *testing.T, c *Config) {
				want := rrl.Config{Responses: 20, NXDomains: 5, Errors: 0, Slip: 3, Prefix4: 32, Prefix6: 64, Table: 5000, LogOnly: true,
					Exempt: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}}
				got := *c.RRL
				if !slices.Equal(got.Exempt, want.Exempt) {
					t.Errorf("exempt %v, want %v", got.Exempt, want.Exempt)
				}
				got.Exempt, want.Exempt = nil, nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("RRL %+v, want %+v", got, want)
				}
			}},
		{name: "a tuning line without the rate", input: block("rrl_slip 1\n"), wantErr: `Testfile:4 - Error during parsing: rrl_slip: response rate limiting needs its rate; want "rrl RESPONSES_PER_SECOND"`},
		{name: "bad rate", input: block("rrl fast\n"), wantErr: `Testfile:4 - Error during parsing: rrl: "fast" is not a number of replies per second`},
		{name: "negative rate", input: block("rrl -1\n"), wantErr: "from 0 (unlimited) to 1000000"},
		{name: "slip too high", input: block("rrl 5\nrrl_slip 11\n"), wantErr: `want "rrl_slip N"`},
		{name: "prefix too long", input: block("rrl 5\nrrl_prefix 33 56\n"), wantErr: "from 0 to 32"},
		{name: "one prefix", input: block("rrl 5\nrrl_prefix 24\n"), wantErr: `want "rrl_prefix IPV4_LENGTH IPV6_LENGTH"`},
		{name: "bad exempt", input: block("rrl 5\nrrl_exempt 10.0.0.1\n"), wantErr: `"10.0.0.1" is not a network`},
		{name: "log only takes nothing", input: block("rrl 5\nrrl_log_only yes\n"), wantErr: `want "rrl_log_only"`},
		{name: "not in the resolver role", input: block("role resolver\nlocal_cluster a\nupstream 127.0.0.1\nrrl 5\n"), wantErr: "rrl: only for role authoritative"},
	})
}

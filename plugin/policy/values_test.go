package policy

import (
	"strings"
	"testing"
)

// TestNameValues pins what the name-valued annotations accept now that the
// rule lives in internal/dnsname: the same values as before it moved.
func TestNameValues(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		value string
		ok    bool
	}{
		{"failover upper case is lower-cased", AnnFailover, "US-East1, eu", true},
		{"failover underscore", AnnFailover, "us_east1", false},
		{"failover leading hyphen", AnnFailover, "-a", false},
		{"weights trailing hyphen", AnnWeights, "a-=1", false},
		{"probe-port name", AnnProbePort, "HTTP-alt", true},
		{"probe-port name too long", AnnProbePort, strings.Repeat("a", 64), false},
		{"probe-host IPv4 address", AnnProbeHost, "192.0.2.1", true},
		{"probe-host two trailing dots", AnnProbeHost, "a.example.com..", false},
		{"probe-host 253 octets", AnnProbeHost, strings.Repeat("abcdefg.", 31) + "examp", true},
		{"probe-host 254 octets", AnnProbeHost, strings.Repeat("abcdefg.", 31) + "exampl", false},
		{"probe-host underscore", AnnProbeHost, "_a.example.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Parse(map[string]string{tc.key: tc.value}, Default())
			if ok := len(probs) == 0; ok != tc.ok {
				t.Errorf("Parse(%s: %q): problems %v, want accepted %v", tc.key, tc.value, probs, tc.ok)
			}
		})
	}
}

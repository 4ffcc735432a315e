package authority

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestTxtStrings (issue 16, item 6): whatever a cluster's name, region and
// zones hold, the TXT record packs, and its strings on the wire joined are
// the texts given.
func TestTxtStrings(t *testing.T) {
	long := strings.Repeat("x", 600)
	tests := []struct {
		name  string
		texts []string
	}{
		{"short", []string{"cluster=a", "region=b"}},
		{"255 bytes", []string{"cluster=" + long[:247]}},
		{"256 bytes", []string{"cluster=" + long[:248]}},
		{"many zones", []string{"zones=" + strings.Repeat("us-central1-a,", 40)}},
		{"backslashes and quotes", []string{`cluster=a\065\"b"` + "\x00\x1b\n"}},
		{"long with a backslash at a cut", []string{"cluster=" + long[:246] + `\\` + long[:300]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := &dns.TXT{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: txtStrings(tc.texts...)}
			buf := make([]byte, 65535)
			n, err := dns.PackRR(rr, buf, 0, nil, false)
			if err != nil {
				t.Fatalf("pack: %v", err)
			}
			// The wire: after the 10-byte fixed part, length-prefixed strings.
			wire := buf[len("\x01a\x07example\x00")+10 : n]
			var got []byte
			for len(wire) > 0 {
				l := int(wire[0])
				got = append(got, wire[1:1+l]...)
				wire = wire[1+l:]
			}
			if want := strings.Join(tc.texts, ""); string(got) != want {
				t.Errorf("on the wire %q, want %q", got, want)
			}
		})
	}
}

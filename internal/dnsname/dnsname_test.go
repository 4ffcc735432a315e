package dnsname

import (
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // a substring of CheckLabel's error; "" for none
	}{
		{"letters", "abc", ""},
		{"digits only", "123", ""},
		{"inner hyphens", "us-east1-b", ""},
		{"upper case", "US-East1", ""},
		{"one letter", "a", ""},
		{"63 octets", strings.Repeat("a", 63), ""},
		{"empty", "", "not 1 to 63 octets"},
		{"64 octets", strings.Repeat("a", 64), "not 1 to 63 octets"},
		{"leading hyphen", "-a", "starts or ends with a hyphen"},
		{"trailing hyphen", "a-", "starts or ends with a hyphen"},
		{"only a hyphen", "-", "starts or ends with a hyphen"},
		{"underscore", "a_b", `holds '_'`},
		{"dot", "a.b", `holds '.'`},
		{"space", "a b", `holds ' '`},
		{"at sign", "a@b", `holds '@'`},
		{"backquote", "a`b", "holds '`'"},
		{"control byte below a digit", "a\x10b", `holds '\x10'`},
		{"non-ASCII", "caf\u00e9", "holds"},
		{"star", "*", `holds '*'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLabel(tc.in)
			checkErr(t, err, tc.wantErr)
			if got := IsLabel(tc.in); got != (tc.wantErr == "") {
				t.Errorf("IsLabel(%q) = %v, want %v", tc.in, got, !got)
			}
		})
	}
}

func TestDomainAndHost(t *testing.T) {
	long := strings.Repeat("abcdefg.", 31) + "example" // 255 octets
	tests := []struct {
		name      string
		in        string
		want      string // the canonical name; "" when CheckDomain fails
		domainErr string // a substring of CheckDomain's error
		hostErr   string // a substring of CheckHost's error; domainErr if ""
	}{
		{name: "host name", in: "api.example.com", want: "api.example.com."},
		{name: "trailing dot kept once", in: "api.example.com.", want: "api.example.com."},
		{name: "lower-cased", in: "Web-1.LB.Example.NET", want: "web-1.lb.example.net."},
		{name: "one label", in: "localhost", want: "localhost."},
		{name: "253 octets", in: long[2:], want: long[2:] + "."},
		{name: "253 octets and a dot", in: long[2:] + ".", want: long[2:] + "."},
		{name: "IPv4 address is a domain, not a host", in: "192.0.2.1", want: "192.0.2.1.", hostErr: "is an IP address"},
		{name: "IPv6 address", in: "2001:db8::1", domainErr: `holds ':'`, hostErr: "is an IP address"},
		{name: "empty", in: "", domainErr: "length 0 is not between 1 and 253"},
		{name: "root", in: ".", domainErr: "length 0"},
		{name: "two trailing dots", in: "a..", domainErr: `label "" is not 1 to 63`},
		{name: "empty label", in: "a..example.net", domainErr: `label ""`},
		{name: "leading dot", in: ".example.net", domainErr: `label ""`},
		{name: "254 octets", in: long[1:], domainErr: "length 254 is not between 1 and 253"},
		{name: "long label", in: strings.Repeat("a", 64) + ".net", domainErr: "not 1 to 63 octets"},
		{name: "leading hyphen", in: "-a.example.net", domainErr: "starts or ends with a hyphen"},
		{name: "space", in: "a b.example.net", domainErr: `holds ' '`},
		{name: "underscore", in: "_srv.example.net", domainErr: `holds '_'`},
		{name: "port", in: "a:80", domainErr: `holds ':'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckDomain(tc.in)
			checkErr(t, err, tc.domainErr)
			if got != tc.want {
				t.Errorf("CheckDomain(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if ok := IsDomain(tc.in); ok != (tc.domainErr == "") {
				t.Errorf("IsDomain(%q) = %v, want %v", tc.in, ok, !ok)
			}
			hostErr := tc.hostErr
			if hostErr == "" {
				hostErr = tc.domainErr
			}
			got, err = CheckHost(tc.in)
			checkErr(t, err, hostErr)
			if hostErr == "" && got != tc.want {
				t.Errorf("CheckHost(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if ok := IsHost(tc.in); ok != (hostErr == "") {
				t.Errorf("IsHost(%q) = %v, want %v", tc.in, ok, !ok)
			}
		})
	}
}

func TestIsAllocatesNothing(t *testing.T) {
	for _, s := range []string{"us-east1", "a_b", "api.example.com.", "a..b"} {
		if n := testing.AllocsPerRun(10, func() { IsLabel(s); IsDomain(s) }); n != 0 {
			t.Errorf("IsLabel and IsDomain(%q): %v allocations, want 0", s, n)
		}
	}
}

// checkErr fails t unless err is nil for want "", or holds want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}

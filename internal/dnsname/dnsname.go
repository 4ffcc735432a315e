// Package dnsname holds Meridian's one rule for the DNS names it reads from
// Corefiles, annotations and Kubernetes objects: RFC 1123 host names, as
// Kubernetes uses them for its object names and as the Corefile uses them
// for cluster, region, zone and port names. A label is 1 to 63 letters,
// digits and hyphens that neither starts nor ends with a hyphen; a name is
// labels joined by dots, at most 253 octets without its trailing dot.
//
// Letters are checked case-insensitively, as DNS compares names. The
// functions that return a name return it in lower case; a caller that keeps
// a label it checked lower-cases it itself, so that "US-East1" and
// "us-east1" are one name.
//
// Errors say what is wrong with the name; callers wrap them in their own
// sentinel errors.
package dnsname

import (
	"fmt"
	"net/netip"
	"strings"
)

// Lengths in octets, from RFC 1035 section 2.3.4 (a name of 255 octets on
// the wire is 253 in text without the trailing dot).
const (
	MaxLabelLen = 63
	MaxNameLen  = 253
)

// CheckLabel returns an error unless l is one RFC 1123 label: 1 to 63
// letters (of either case), digits and hyphens, not starting or ending with
// a hyphen.
func CheckLabel(l string) error {
	switch {
	case l == "" || len(l) > MaxLabelLen:
		return fmt.Errorf("label %q is not 1 to %d octets long", l, MaxLabelLen)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	if i := badByte(l); i >= 0 {
		return fmt.Errorf("label %q holds %q", l, l[i])
	}
	return nil
}

// IsLabel reports whether CheckLabel accepts s. It does not allocate.
func IsLabel(s string) bool {
	return s != "" && len(s) <= MaxLabelLen && s[0] != '-' && s[len(s)-1] != '-' && badByte(s) < 0
}

// badByte returns the index of the first byte of l that is not a letter,
// a digit or a hyphen, or -1.
func badByte(l string) int {
	for i := 0; i < len(l); i++ {
		c := l[i] | 0x20 // lower case: only 'A'-'Z' map onto 'a'-'z'
		if (c < 'a' || c > 'z') && (l[i] < '0' || l[i] > '9') && l[i] != '-' {
			return i
		}
	}
	return -1
}

// CheckDomain checks that d, with or without its trailing dot, is a name of
// RFC 1123 labels of at most 253 octets, and returns it in lower case with
// a trailing dot. A name that looks like an IPv4 address is a domain name;
// CheckHost refuses it.
func CheckDomain(d string) (string, error) {
	name := strings.TrimSuffix(strings.ToLower(d), ".")
	if err := checkLabels(name); err != nil {
		return "", err
	}
	return name + ".", nil
}

// IsDomain reports whether CheckDomain accepts s. It does not allocate.
func IsDomain(s string) bool {
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	for l := range strings.SplitSeq(name, ".") {
		if !IsLabel(l) {
			return false
		}
	}
	return true
}

// CheckHost is CheckDomain for a host name, which is not an IP address
// (RFC 1123 section 2.1): it returns h in lower case with a trailing dot.
func CheckHost(h string) (string, error) {
	name := strings.TrimSuffix(strings.ToLower(h), ".")
	if _, err := netip.ParseAddr(name); err == nil {
		return "", fmt.Errorf("is an IP address, not a host name")
	}
	if err := checkLabels(name); err != nil {
		return "", err
	}
	return name + ".", nil
}

// IsHost reports whether CheckHost accepts s.
func IsHost(s string) bool {
	if !IsDomain(s) {
		return false
	}
	_, err := netip.ParseAddr(strings.TrimSuffix(s, "."))
	return err != nil
}

// checkLabels checks the length of name, which has no trailing dot, and
// each of its labels.
func checkLabels(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("length %d is not between 1 and %d", len(name), MaxNameLen)
	}
	for l := range strings.SplitSeq(name, ".") {
		if err := CheckLabel(l); err != nil {
			return err
		}
	}
	return nil
}

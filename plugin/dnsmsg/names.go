package dnsmsg

import "strings"

// MatchZone returns the longest zone that qname is in (zones are lower
// case, qname of any case), or "". Unlike plugin.Zones.Matches it does not
// allocate.
func MatchZone(zones []string, qname string) string {
	best := ""
	for _, z := range zones {
		if len(z) <= len(best) || len(z) > len(qname) {
			continue
		}
		i := len(qname) - len(z)
		if (z == "." || i == 0 || qname[i-1] == '.') && strings.EqualFold(qname[i:], z) {
			best = z
		}
	}
	return best
}

// Lower returns s in lower case, allocating only when s has upper case.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// Child is the name label.zone, for the root zone too.
func Child(label, zone string) string {
	if zone == "." {
		return label + "."
	}
	return label + "." + zone
}

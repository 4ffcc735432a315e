package e2eutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// DNSSECKey is a signing key written as the .key and .private files that
// dnssec-keygen and ldns-keygen write, which CoreDNS's dnssec plugin reads.
type DNSSECKey struct {
	// Base is the key files' path without ".key" or ".private", as the
	// dnssec plugin's `key file` takes it: <dir>/K<zone>.+013+<tag>.
	Base string
	// DNSKEY is the public key record, as the parent's DS is made from it.
	DNSKEY *dns.DNSKEY
	// DS is the key's SHA-256 DS record: what the parent publishes, and a
	// validator's trust anchor.
	DS *dns.DS
}

// NewDNSSECKey generates an ECDSA P-256 SHA-256 key (algorithm 13) for zone
// with the SEP bit set (flags 257: a KSK, used alone as a CSK), writes its
// two files into dir and returns it.
func NewDNSSECKey(t testing.TB, dir, zone string) DNSSECKey {
	t.Helper()
	zone = dns.Fqdn(zone)
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     dns.ZONE | dns.SEP,
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := k.Generate(256)
	if err != nil {
		t.Fatalf("generate a key for %s: %v", zone, err)
	}
	base := filepath.Join(dir, fmt.Sprintf("K%s+%03d+%05d", zone, k.Algorithm, k.KeyTag()))
	WriteFile(t, base+".key", k.String()+"\n")
	if err := os.WriteFile(base+".private", []byte(k.PrivateKeyString(priv)), 0o600); err != nil {
		t.Fatal(err)
	}
	return DNSSECKey{Base: base, DNSKEY: k, DS: k.ToDS(dns.SHA256)}
}

// Anchor is the key's DS as Unbound's trust-anchor takes it, on one line.
func (k DNSSECKey) Anchor() string {
	return strings.Join(strings.Fields(k.DS.String()), " ")
}

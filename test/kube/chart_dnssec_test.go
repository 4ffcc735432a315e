package kube

import (
	"os"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// checkChartDNSSEC runs the chart's dnssec value set (two keys, as during a
// rollover) with two generated keys in a real Secret, and checks that the
// pod's Corefile signs: the zone's DNSKEY set holds both keys, an answer
// carries a valid signature by each, and a validating Unbound whose trust
// anchor is either key's DS finds the answer secure.
func checkChartDNSSEC(t *testing.T, f *federation, objs []*unstructured.Unstructured) {
	dir := t.TempDir()
	keys := []e2eutil.DNSSECKey{e2eutil.NewDNSSECKey(t, dir, "example.com."), e2eutil.NewDNSSECKey(t, dir, "example.com.")}
	secret := map[string][]byte{}
	for i, name := range []string{"ksk-2026", "ksk-2027"} { // the set's dnssec.keys
		for _, ext := range []string{".key", ".private"} {
			b, err := os.ReadFile(keys[i].Base + ext)
			if err != nil {
				t.Fatal(err)
			}
			secret[name+ext] = b
		}
	}
	s := runChartPod(t, f, objs, map[string]map[string][]byte{"meridian-dnssec": secret})

	var r *dns.Msg
	e2eutil.Eventually(t, 20*time.Second, "a signed answer", func() bool {
		var err error
		r, err = e2eutil.ExchangeDO(s.DNS, nginx, dns.TypeA, paris)
		return err == nil && len(e2eutil.Addrs(r)) > 0
	})
	var rrset []dns.RR
	sigs := map[uint16]*dns.RRSIG{}
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			rrset = append(rrset, rr)
		case *dns.RRSIG:
			sigs[rr.KeyTag] = rr
		}
	}
	for _, k := range keys {
		sig := sigs[k.DNSKEY.KeyTag()]
		if sig == nil {
			t.Errorf("no signature by key %d:\n%v", k.DNSKEY.KeyTag(), r)
			continue
		}
		if err := sig.Verify(k.DNSKEY, rrset); err != nil || !sig.ValidityPeriod(time.Now()) {
			t.Errorf("the signature by key %d does not verify (%v) or is not valid now (%v)", k.DNSKEY.KeyTag(), err, sig.ValidityPeriod(time.Now()))
		}
	}
	kr, err := e2eutil.ExchangeDO(s.DNS, "example.com.", dns.TypeDNSKEY, "")
	if err != nil {
		t.Fatal(err)
	}
	var tags []uint16
	for _, rr := range kr.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			tags = append(tags, k.KeyTag())
		}
	}
	slices.Sort(tags)
	want := []uint16{keys[0].DNSKEY.KeyTag(), keys[1].DNSKEY.KeyTag()}
	slices.Sort(want)
	if !slices.Equal(tags, want) {
		t.Errorf("DNSKEY set %v, want the Secret's keys %v", tags, want)
	}
	if e2eutil.UnboundBinary() == "" {
		e2eutil.RequireRealParts(t, "unbound is not installed (hack/install-tools.sh installs it)")
		return
	}
	for _, k := range keys { // the DS before a rollover, and the one after
		u := e2eutil.StartUnbound(t, e2eutil.UnboundConfig{Zone: "example.com.", Authority: s.DNS, TrustAnchor: k.Anchor()})
		r, err := u.ExchangeDO(nginx, dns.TypeA, paris)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || len(e2eutil.Addrs(r)) == 0 {
			t.Errorf("Unbound with the DS of key %d: %s, AD %v; want an answer, secure:\n%v", k.DNSKEY.KeyTag(), dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
		}
	}
}

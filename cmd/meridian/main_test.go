package main

import (
	"slices"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

func TestAddDirective(t *testing.T) {
	for range 2 { // idempotent
		if err := addDirective(); err != nil {
			t.Fatal(err)
		}
	}
	d := dnsserver.Directives
	m, k := slices.Index(d, "meridian"), slices.Index(d, anchor)
	if m < 0 || m != k-1 {
		t.Errorf("meridian at %d, %s at %d: want meridian just before it", m, anchor, k)
	}
	if n := len(slices.DeleteFunc(slices.Clone(d), func(s string) bool { return s != "meridian" })); n != 1 {
		t.Errorf("meridian listed %d times", n)
	}
	for _, before := range []string{"cache", "rewrite", "acl", "prometheus", "ready"} {
		if slices.Index(d, before) > m {
			t.Errorf("%s runs after meridian; it must shape requests first", before)
		}
	}
}

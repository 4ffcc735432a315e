package hosts

import (
	"errors"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Host // zero: an error
	}{
		{"shop.example.com", Host{Name: "shop.example.com."}},
		{"Shop.Example.COM.", Host{Name: "shop.example.com."}},
		{"*.shop.example.com", Host{Name: "*.shop.example.com.", Wildcard: true}},
		{"*.com", Host{Name: "*.com.", Wildcard: true}},
		{"localhost", Host{Name: "localhost."}},
		{"", Host{}},
		{"*", Host{}},
		{"*.", Host{}},
		{"a.*.example.com", Host{}},
		{"*.*.example.com", Host{}},
		{"*shop.example.com", Host{}},
		{"shop*.example.com", Host{}},
		{"192.0.2.1", Host{}},
		{"2001:db8::1", Host{}},
		{"-shop.example.com", Host{}},
		{"shop..example.com", Host{}},
		{"shop_1.example.com", Host{}},
	} {
		got, err := Parse(tc.in)
		switch {
		case tc.want == (Host{}) && (err == nil || !errors.Is(err, ErrHost)):
			t.Errorf("Parse(%q) = %+v, %v; want an ErrHost", tc.in, got, err)
		case tc.want != (Host{}) && (err != nil || got != tc.want):
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func must(s string) Host {
	h, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return h
}

// TestIntersect follows the examples of the Gateway API's HTTPRoute
// hostnames field, in both argument orders where they are symmetric.
func TestIntersect(t *testing.T) {
	for _, tc := range []struct {
		listener, route string
		want            string // "": none
	}{
		{"test.example.com", "test.example.com", "test.example.com."},
		{"test.example.com", "*.example.com", "test.example.com."},
		{"test.example.com", "other.example.com", ""},
		{"test.example.com", "*.test.example.com", ""},
		{"*.example.com", "*.example.com", "*.example.com."},
		{"*.example.com", "test.example.com", "test.example.com."},
		{"*.example.com", "foo.test.example.com", "foo.test.example.com."},
		{"*.example.com", "*.test.example.com", "*.test.example.com."},
		{"*.example.com", "example.com", ""},
		{"*.example.com", "test.example.net", ""},
		{"*.test.example.com", "*.example.com", "*.test.example.com."},
		{"*.com", "*.example.com", "*.example.com."},
		{"*.example.com", "*.com", "*.example.com."},
		{"*.example.com", "*.example.net", ""},
		{"*.example.com", "badexample.com", ""},
	} {
		got, ok := Intersect(must(tc.listener), must(tc.route))
		if (tc.want == "") == ok || (ok && got.Name != tc.want) {
			t.Errorf("Intersect(%s, %s) = %q, %v; want %q", tc.listener, tc.route, got.Name, ok, tc.want)
		}
	}
}

func TestEffective(t *testing.T) {
	hs := func(ss ...string) []Host {
		var out []Host
		for _, s := range ss {
			out = append(out, must(s))
		}
		return out
	}
	l := must("*.example.com")
	for _, tc := range []struct {
		name     string
		listener *Host
		route    []Host
		want     []Host
	}{
		{"neither names a host", nil, nil, nil},
		{"the listener's when the route names none", &l, nil, hs("*.example.com")},
		{"the route's when the listener names none", nil, hs("a.example.net", "b.example.com"), hs("a.example.net", "b.example.com")},
		{"narrowed, the rest ignored", &l, hs("test.example.com", "test.example.net", "*.example.com"), hs("test.example.com", "*.example.com")},
		{"a broader route wildcard gives the listener's", &l, hs("*.com"), hs("*.example.com")},
		{"duplicates dropped", &l, hs("*.com", "*.example.com", "a.example.com", "A.example.com"), hs("*.example.com", "a.example.com")},
		{"nothing intersects", &l, hs("example.com", "x.example.org"), []Host{}},
	} {
		if got := Effective(tc.listener, tc.route); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: Effective = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPlace(t *testing.T) {
	zones := []string{"example.com.", "eu.example.com.", "example.org."}
	for _, tc := range []struct {
		host, zone string
		want       Placement
	}{
		{"shop.example.com", "example.com.", Inside},
		{"*.shop.example.com", "example.com.", Inside},
		{"a.b.c.d.example.com", "example.com.", Inside},
		{"shop.eu.example.com", "eu.example.com.", Inside}, // the longest zone
		{"us-central1.example.com", "example.com.", Inside},
		{"svcs.example.com", "example.com.", Inside},
		{"svc.a.b.c.example.com", "example.com.", Inside}, // svc deeper than the federation puts it
		{"example.com", "example.com.", Conflict},
		{"eu.example.com", "eu.example.com.", Conflict},
		{"*.example.com", "example.com.", Conflict},
		{"svc.example.com", "example.com.", Conflict},
		{"web.ns.fed.svc.example.com", "example.com.", Conflict},
		{"fed.svc.us-central1.example.com", "example.com.", Conflict},
		{"web.ns.fed.svc.us-central1-a.us-central1.example.com", "example.com.", Conflict},
		{"*.svc.example.org", "example.org.", Conflict},
		{"shop.example.net", "", Outside},
		{"example.com.au", "", Outside},
		{"badexample.com", "", Outside},
	} {
		zone, p := Place(must(tc.host), zones)
		if zone != tc.zone || p != tc.want {
			t.Errorf("Place(%s) = %q, %d; want %q, %d", tc.host, zone, p, tc.zone, tc.want)
		}
	}
}

func TestWildcardSuffix(t *testing.T) {
	for _, tc := range []struct {
		qname, want string
		ok          bool
	}{
		{"a.shop.example.com.", "shop.example.com.", true},
		{"a.b.shop.example.com.", "b.shop.example.com.", true},
		{"com.", "", false},
		{".", "", false},
	} {
		got, ok := WildcardSuffix(tc.qname)
		if got != tc.want || ok != tc.ok {
			t.Errorf("WildcardSuffix(%q) = %q, %v; want %q, %v", tc.qname, got, ok, tc.want, tc.ok)
		}
		// The host that answers: the wildcard one label above qname.
		if ok && must("*."+got).Suffix() != got {
			t.Errorf("WildcardSuffix(%q): %q is not the Suffix of its wildcard host", tc.qname, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { WildcardSuffix("a.shop.example.com.") }); n != 0 {
		t.Errorf("WildcardSuffix allocates %v times, want 0", n)
	}
}

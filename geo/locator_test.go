package geo

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestLocate(t *testing.T) {
	l := newLocator(t, Config{Path: testDB})
	tests := []struct {
		name   string
		client string
		known  bool
		place  Point
		scope  int
		net    string
	}{
		// One address in each network: the /32 is cut to a /24 key and the
		// scope is the database network's.
		{"taipei", "27.0.1.2/32", true, taipei, 16, "27.0.0.0/16"},
		{"tokyo", "36.0.200.1/32", true, tokyo, 16, "36.0.0.0/16"},
		{"singapore", "43.0.0.1/32", true, singapore, 16, "43.0.0.0/16"},
		{"chicago", "24.0.5.5/32", true, chicago, 17, "24.0.0.0/17"},
		{"chicago beyond new york", "24.0.200.1/32", true, chicago, 18, "24.0.192.0/18"},
		{"new york", "24.0.128.9/32", true, newYork, 24, "24.0.128.0/24"},
		{"los angeles", "63.0.1.1/32", true, losAngeles, 16, "63.0.0.0/16"},
		{"paris", "81.0.1.1/32", true, paris, 16, "81.0.0.0/16"},
		{"frankfurt", "85.0.255.254/32", true, frankfurt, 16, "85.0.0.0/16"},
		{"johannesburg", "41.0.1.1/32", true, johannesburg, 16, "41.0.0.0/16"},
		{"sao paulo", "177.0.1.1/32", true, saoPaulo, 16, "177.0.0.0/16"},

		// ECS source prefixes: the scope may be longer than the source.
		{"ecs /24 new york", "24.0.128.0/24", true, newYork, 24, "24.0.128.0/24"},
		{"ecs /16 in a /16", "27.0.0.0/16", true, taipei, 16, "27.0.0.0/16"},
		{"ecs /12 in a /16", "27.0.0.0/12", true, taipei, 16, "27.0.0.0/16"},
		// 24.0.0.0/16 holds New York's /24, so the database answers for
		// 24.0.0.0 from 24.0.0.0/17: the scope is 17, not the source's 16.
		{"ecs /16 around new york", "24.0.0.0/16", true, chicago, 17, "24.0.0.0/17"},
		{"ecs address not masked", "24.0.200.5/16", true, chicago, 17, "24.0.0.0/17"},
		{"ecs /20", "81.0.16.0/20", true, paris, 16, "81.0.0.0/16"},

		// Unknown clients.
		{"country only, no location", "5.0.0.1/32", false, Point{}, 16, "5.0.0.0/16"},
		{"loopback", "127.0.0.1/32", false, Point{}, 8, "127.0.0.0/8"},
		{"private", "10.1.2.3/32", false, Point{}, 8, "10.0.0.0/8"},
		{"not in database", "200.1.1.1/32", false, Point{}, 7, "200.0.0.0/7"},
		{"ecs /0", "0.0.0.0/0", false, Point{}, 0, "0.0.0.0/0"},
		{"ecs /0 with address", "27.0.1.2/0", false, Point{}, 0, "0.0.0.0/0"},

		// IPv6: keys are at most /56.
		{"ipv6 /128 tokyo", "2001:200:1:2::1/128", true, tokyo, 32, "2001:200::/32"},
		{"ipv6 /56 chicago", "2600:0:0:100::/56", true, chicago, 32, "2600::/32"},
		{"ipv6 /48 paris", "2a00:0:1::/48", true, paris, 32, "2a00::/32"},
		{"ipv6 /64 paris", "2a00:0:1:2::/64", true, paris, 32, "2a00::/32"},
		{"ipv6 not in database", "2c0f:1::1/128", false, Point{}, 6, "2c00::/6"},
		{"ipv6 /0", "::/0", false, Point{}, 0, "::/0"},
		{"6to4 of taipei", "2002:1b00:1::1/128", true, taipei, 32, "2002:1b00::/32"},

		// IPv4-mapped IPv6 is located as IPv4.
		{"4-in-6 address", "::ffff:27.0.1.2/128", true, taipei, 16, "27.0.0.0/16"},
		{"4-in-6 ecs /120", "::ffff:24.0.128.0/120", true, newYork, 24, "24.0.128.0/24"},
		{"4-in-6 unknown", "::ffff:10.1.2.3/128", false, Point{}, 8, "10.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for _, pass := range []string{"miss", "hit"} {
				got := l.Locate(prefix(tt.client))
				if got.Known != tt.known || got.Scope != tt.scope || got.Net != prefix(tt.net) {
					t.Errorf("%s: Locate(%s) = known %v scope %d net %s, want known %v scope %d net %s",
						pass, tt.client, got.Known, got.Scope, got.Net, tt.known, tt.scope, tt.net)
				}
				if tt.known && !near(got.Point, tt.place) {
					t.Errorf("%s: Locate(%s) at %s, want %s", pass, tt.client, pointString(got.Point), pointString(tt.place))
				}
				if !tt.known && got.Point != (Point{}) {
					t.Errorf("%s: Locate(%s) unknown but at %s", pass, tt.client, pointString(got.Point))
				}
			}
		})
	}
}

// TestLocateScopeCutToKey checks the one scope rule the committed database
// cannot show: a database network longer than a key that was cut.
func TestLocateScopeCutToKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "variant.mmdb")
	writeFile(t, path, variantDB(t))
	l := newLocator(t, Config{Path: path})
	tests := []struct {
		name   string
		client string
		place  Point
		scope  int
		net    string
	}{
		// 27.0.5.0 is in 27.0.5.0/28 (the /16 split around London's /28):
		// the /28 is cut to the /24 key the cache answers for.
		{"/32 source, /28 network", "27.0.5.1/32", sydney, 24, "27.0.5.0/24"},
		{"/32 source in the /28, key /24", "27.0.5.20/32", sydney, 24, "27.0.5.0/24"},
		// Sources longer than /24 are cut too, so London's /28 is never
		// reached: the whole /24 gets the answer for its first address.
		{"ecs /28 on london", "27.0.5.16/28", sydney, 24, "27.0.5.0/24"},
		{"ecs /24", "27.0.5.0/24", sydney, 24, "27.0.5.0/24"},
		// Not cut: sources get the network of their first address, which
		// the /28 split into shorter pieces.
		{"ecs /16 in a split /16", "27.0.0.0/16", sydney, 22, "27.0.0.0/22"},
		{"ecs /23", "27.0.4.0/23", sydney, 24, "27.0.4.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.Locate(prefix(tt.client))
			if !got.Known || got.Scope != tt.scope || got.Net != prefix(tt.net) || !near(got.Point, tt.place) {
				t.Errorf("Locate(%s) = %+v, want %s scope %d net %s", tt.client, got, pointString(tt.place), tt.scope, tt.net)
			}
		})
	}
}

func TestLocateNoDatabase(t *testing.T) {
	l := newLocator(t, Config{})
	for _, client := range []string{"27.0.1.2/32", "24.0.128.0/24", "2001:200::1/128", "::ffff:27.0.1.2/128"} {
		t.Run(client, func(t *testing.T) {
			got := l.Locate(prefix(client))
			want := Location{Net: netip.PrefixFrom(prefix(client).Addr().Unmap(), 0).Masked()}
			if got != want {
				t.Errorf("Locate(%s) = %+v, want %+v", client, got, want)
			}
		})
	}
	if err := l.Reload(); err != nil {
		t.Errorf("Reload without a database = %v, want nil", err)
	}
}

func TestLocateInvalidClient(t *testing.T) {
	l := newLocator(t, Config{Path: testDB})
	if got := l.Locate(netip.Prefix{}); got != (Location{}) {
		t.Errorf("Locate(invalid) = %+v, want the zero Location", got)
	}
}

func TestCacheKey(t *testing.T) {
	tests := []struct{ client, want string }{
		{"27.0.1.2/32", "27.0.1.0/24"},
		{"27.0.1.0/24", "27.0.1.0/24"},
		{"27.0.1.0/25", "27.0.1.0/24"},
		{"27.0.0.0/16", "27.0.0.0/16"},
		{"2001:200:1:2::1/128", "2001:200:1::/56"},
		{"2001:200:1:200::/56", "2001:200:1:200::/56"},
		{"2001:200:1::/48", "2001:200:1::/48"},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			if got := cacheKey(prefix(tt.client)); got != prefix(tt.want) {
				t.Errorf("cacheKey(%s) = %s, want %s", tt.client, got, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	asn := filepath.Join(dir, "asn.mmdb")
	writeFile(t, asn, buildDB(t, "GeoLite2-ASN", testNet{"27.0.0.0/16", taipei}))
	custom := filepath.Join(dir, "custom.mmdb")
	writeFile(t, custom, buildDB(t, "Custom-DB", testNet{"27.0.0.0/16", taipei}))
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"missing file", Config{Path: filepath.Join(dir, "missing.mmdb")}, ErrOpen},
		{"directory", Config{Path: dir}, ErrOpen},
		{"not an mmdb", Config{Path: garbage}, ErrOpen},
		{"asn database", Config{Path: asn}, ErrOpen},
		{"unknown database type", Config{Path: custom}, ErrOpen},
		{"negative cache size", Config{Path: testDB, CacheSize: -1}, ErrConfig},
		{"negative reload", Config{Path: testDB, Reload: -1}, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Errorf("New() error = %v, want %v", err, tt.want)
			}
			if l != nil {
				t.Errorf("New() returned a Locator with error %v", err)
			}
		})
	}
}

func TestLocateHitDoesNotAllocate(t *testing.T) {
	l := newLocator(t, Config{Path: testDB})
	clients := []netip.Prefix{prefix("27.0.1.2/32"), prefix("2001:200::1/128"), prefix("::ffff:24.0.128.1/128"), prefix("10.1.2.3/32")}
	for _, c := range clients {
		l.Locate(c)
	}
	for _, c := range clients {
		if n := testing.AllocsPerRun(100, func() { l.Locate(c) }); n != 0 {
			t.Errorf("Locate(%s) on a cache hit: %v allocations, want 0", c, n)
		}
	}
}

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/geo/widen"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// The benchmark's federation: one cluster per region, so that no two data
// centers are equally far from a client and every server names the same
// one (Meridian breaks ties between equally far clusters by a hash of the
// client's network; gdnsd and Knot have no such ties to break).
var dcs = []struct {
	cluster, region, addr string
	continents            []string // Knot's geodb keys for this data center
}{
	{"us-central1-a", "us-central1", "192.0.2.10", []string{"NA", "SA", "AN"}},
	{"europe-west1-b", "europe-west1", "198.51.100.10", []string{"EU", "AF"}},
	{"asia-east1-a", "asia-east1", "203.0.113.10", []string{"AS", "OC"}},
}

const (
	zone       = "example.com."
	federation = "bench"
	namespace  = "bench"
	names      = 100
	ttl        = 30
)

// name is the i-th service's global name.
func name(i int) string {
	return fmt.Sprintf("svc%03d.%s.%s.svc.%s", i, namespace, federation, zone)
}

// checkNets are real networks of the database, one near each data center:
// every server must name that data center for them.
var checkNets = []struct{ net, addr string }{
	{"8.8.8.0/24", "192.0.2.10"},      // US
	{"81.2.69.0/24", "198.51.100.10"}, // GB
	{"27.0.1.0/24", "203.0.113.10"},   // JP
}

// setup writes the query file and the servers' configurations into dir.
func setup(db, dir string, base, queries, threads int) error {
	if db == "" || dir == "" {
		return fmt.Errorf("setup: -db and -dir are required")
	}
	for _, sub := range []string{"manifests", "gdnsd/config/zones", "knot"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	nets, err := sampleNetworks(db, 20_000, false)
	if err != nil {
		return err
	}
	if err := writeQueries(filepath.Join(dir, "queries.bin"), nets, queries); err != nil {
		return err
	}
	if err := writeManifests(filepath.Join(dir, "manifests")); err != nil {
		return err
	}
	if err := writeGdnsd(filepath.Join(dir, "gdnsd"), db, base+4, threads); err != nil {
		return err
	}
	if err := writeKnot(filepath.Join(dir, "knot"), db, base+5, threads); err != nil {
		return err
	}
	return writeCorefiles(dir, db, base)
}

// sampleNetworks draws n IPv4 (or IPv6) networks of the database at
// random (by network, not by address: each network is a distinct client
// population), cut to at most /24 (/56) as resolvers send them.
func sampleNetworks(path string, n int, v6 bool) ([]netip.Prefix, error) {
	nets, err := cityNetworks(path, v6)
	if err != nil {
		return nil, err
	}
	return sample(nets, n, path, v6)
}

// sample draws n of nets (of at least /8; IPv6: /16), cut to /24 (/56),
// the same ones every run.
func sample(nets []widen.Network, n int, path string, v6 bool) ([]netip.Prefix, error) {
	shortest, longest := 8, 24
	if v6 {
		shortest, longest = 16, 56
	}
	var all []netip.Prefix
	for _, nw := range nets {
		if bits := nw.Prefix.Bits(); bits >= shortest {
			all = append(all, netip.PrefixFrom(nw.Prefix.Addr(), min(bits, longest)).Masked())
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: no network of the family", path)
	}
	rng := rand.New(rand.NewPCG(1, 2)) // the same file every run
	out := make([]netip.Prefix, n)
	for i := range out {
		out[i] = all[rng.IntN(len(all))]
	}
	return out, nil
}

// writeQueries writes queries A questions in dnsperf's binary format
// (RFC 1035 4.2.2 framing), each for one of the names at random with the
// ECS option of one of nets at random.
func writeQueries(path string, nets []netip.Prefix, queries int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(3, 4))
	for range queries {
		m := new(dns.Msg)
		m.SetQuestion(name(rng.IntN(names)), dns.TypeA)
		m.RecursionDesired = false
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, dnsmsg.Subnet(nets[rng.IntN(len(nets))]))
		b, err := m.Pack()
		if err != nil {
			f.Close()
			return err
		}
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(b)))
		w.Write(l[:])
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeManifests writes Meridian's manifest folder: each data center a
// member cluster with a Node and the 100 Services, each with three ready
// endpoints.
func writeManifests(dir string) error {
	for _, dc := range dcs {
		var b strings.Builder
		fmt.Fprintf(&b, `apiVersion: v1
kind: Node
metadata:
  name: %[1]s-node
  labels: {topology.kubernetes.io/region: %[2]s, topology.kubernetes.io/zone: %[1]s}
status:
  conditions: [{type: Ready, status: "True"}]
`, dc.cluster, dc.region)
		for i := range names {
			fmt.Fprintf(&b, `---
apiVersion: v1
kind: Service
metadata:
  name: svc%03[1]d
  namespace: %[2]s
  labels: {federation.meridian.dev/name: %[3]s}
spec:
  type: LoadBalancer
  ports: [{name: http, port: 80, protocol: TCP}]
status:
  loadBalancer: {ingress: [{ip: %[4]s}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc%03[1]d-1
  namespace: %[2]s
  labels: {kubernetes.io/service-name: svc%03[1]d}
addressType: IPv4
endpoints:
  - {addresses: [10.0.0.1], conditions: {ready: true}}
  - {addresses: [10.0.0.2], conditions: {ready: true}}
  - {addresses: [10.0.0.3], conditions: {ready: true}}
`, i, namespace, federation, dc.addr)
		}
		d := filepath.Join(dir, dc.cluster)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "objects.yaml"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// soa is the zone's SOA and NS, for the zone files.
const soa = `$TTL 30
@ IN SOA ns1 hostmaster 1 7200 1800 1209600 30
@ IN NS ns1
ns1 IN A 127.0.0.1
`

// writeGdnsd writes gdnsd's config: plugin_geoip in city auto mode with
// the data centers at Meridian's region coordinates, one resource, and the
// names as DYNA records of it.
func writeGdnsd(dir, db string, port, threads int) error {
	var coords, dcmap, list strings.Builder
	for _, dc := range dcs {
		p, ok := geo.Region(dc.region)
		if !ok {
			return fmt.Errorf("no coordinates for region %s", dc.region)
		}
		fmt.Fprintf(&coords, "          %s => [ %g, %g ],\n", dc.cluster, p.Lat, p.Lon)
		fmt.Fprintf(&dcmap, "          %s => %s,\n", dc.cluster, dc.addr)
		list.WriteString(dc.cluster + ", ")
	}
	conf := fmt.Sprintf(`options => {
  listen => [ 127.0.0.1 ]
  dns_port => %d
  udp_threads => 1
  tcp_threads => 1
  zones_default_ttl => %d
  run_dir => %s/run
  state_dir => %s/state
}
plugins => {
  geoip => {
    maps => {
      bench => {
        geoip2_db => %s,
        datacenters => [ %s ],
        auto_dc_coords => {
%s        }
        auto_dc_limit => 1
      }
    }
    resources => {
      svc => {
        map => bench
        service_types => up
        dcmap => {
%s        }
      }
    }
  }
}
`, port, ttl, dir, dir, db, strings.TrimSuffix(list.String(), ", "), coords.String(), dcmap.String())
	conf = strings.Replace(conf, "udp_threads => 1", fmt.Sprintf("udp_threads => %d", threads), 1)
	var z strings.Builder
	z.WriteString(soa)
	for i := range names {
		fmt.Fprintf(&z, "%s %d DYNA geoip!svc\n", name(i), ttl)
	}
	for _, sub := range []string{"run", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "config"), []byte(conf), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config", "zones", strings.TrimSuffix(zone, ".")), []byte(z.String()), 0o644)
}

// writeKnot writes Knot's config: mod-geoip in geodb mode keyed on the
// continent (Knot has no distance ordering), one answer per continent.
func writeKnot(dir, db string, port, threads int) error {
	var geoConf strings.Builder
	for i := range names {
		fmt.Fprintf(&geoConf, "%s:\n", name(i))
		for _, dc := range dcs {
			for _, c := range dc.continents {
				fmt.Fprintf(&geoConf, "  - geo: %q\n    A: %s\n", c, dc.addr)
			}
		}
	}
	var z strings.Builder
	z.WriteString(soa)
	for i := range names {
		fmt.Fprintf(&z, "%s %d A %s\n", name(i), ttl, dcs[0].addr) // for clients of no continent
	}
	conf := fmt.Sprintf(`server:
  listen: 127.0.0.1@%[1]d
  rundir: %[2]s
  udp-workers: %[6]d
  tcp-workers: 1
  background-workers: 1
  edns-client-subnet: on
database:
  storage: %[2]s/db
log:
  - target: stderr
    any: warning
mod-geoip:
  - id: bench
    config-file: %[2]s/geo.conf
    ttl: %[4]d
    mode: geodb
    geodb-file: %[3]s
    geodb-key: [ continent/code ]
template:
  - id: default
    storage: %[2]s
zone:
  - domain: %[5]s
    file: zone
    module: mod-geoip/bench
`, port, dir, db, ttl, zone, threads)
	for path, s := range map[string]string{"knot.conf": conf, "geo.conf": geoConf.String(), "zone": z.String()} {
		if err := os.WriteFile(filepath.Join(dir, path), []byte(s), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeCorefiles writes the CoreDNS-based servers' Corefiles: Meridian
// with the fast path and widened ECS scopes, with and without the
// prometheus plugin, Meridian as before them (the chain alone, the
// database's networks as scopes, with prometheus), stock whoami, stock
// file.
func writeCorefiles(dir, db string, base int) error {
	meridian := func(port int, extra string, fast bool) string {
		fp := "        ecs_scope network\n"
		if fast {
			fp = "        fastpath\n        ecs_scope widened\n"
		}
		return fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    meridian {
        federation %s
        manifests %s/manifests 1s
        geoip %s
        ttl %d
%s    }
%s}
`, zone, port, federation, dir, db, ttl, fp, extra)
	}
	prom := func(port int) string { return "    prometheus 127.0.0.1:" + fmt.Sprint(port) + "\n" }
	var z strings.Builder
	z.WriteString(soa)
	for i := range names {
		fmt.Fprintf(&z, "%s %d A %s\n", name(i), ttl, dcs[0].addr)
	}
	files := map[string]string{
		"Corefile.meridian":       meridian(base, prom(base+100), true),
		"Corefile.meridian-nomt":  meridian(base+1, "", true),
		"Corefile.meridian-chain": meridian(base+6, prom(base+106), false),
		"Corefile.whoami":         fmt.Sprintf("%s:%d {\n    bind 127.0.0.1\n    whoami\n}\n", zone, base+2),
		"Corefile.file":           fmt.Sprintf("%s:%d {\n    bind 127.0.0.1\n    file %s/file.zone\n}\n", zone, base+3, dir),
		"file.zone":               z.String(),
	}
	for path, s := range files {
		if err := os.WriteFile(filepath.Join(dir, path), []byte(s), 0o644); err != nil {
			return err
		}
	}
	return nil
}

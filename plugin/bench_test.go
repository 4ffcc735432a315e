package meridian

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/source"
)

// counter is a ResponseWriter that keeps no reply but counts them and the
// ones that are not what the benchmark expects, so a benchmark checks what
// it times at the cost of a comparison per query.
type counter struct {
	sourceWriter
	rcode   int // the expected rcode: NOERROR with answers, else with a SOA
	replies int
	bad     int
	last    *dns.Msg // the last reply, or the last bad one
}

// WriteMsg counts m.
func (w *counter) WriteMsg(m *dns.Msg) error {
	w.replies++
	if w.bad == 0 {
		w.last = m
	}
	if m.Rcode != w.rcode || (m.Rcode == dns.RcodeSuccess) != (len(m.Answer) > 0) || (m.Rcode != dns.RcodeSuccess && len(m.Ns) == 0) {
		w.bad++
		w.last = m
	}
	return nil
}

// BenchmarkServeDNS answers a global name for a client whose location is
// already cached: the common path of a busy server. The no-ECS cases come
// from a source address GeoIP places (Taipei) and from one it cannot.
func BenchmarkServeDNS(b *testing.B) {
	for _, bc := range []struct {
		name, qname, subnet string
		remote              net.Addr
		rcode               int
		addr                string // the last answer record's address
	}{
		{"global-ecs", global, "27.0.0.0/24", nil, dns.RcodeSuccess, "203.0.113.11"},
		{"global-no-ecs", global, "", udpFrom(net.IP{27, 0, 0, 1}), dns.RcodeSuccess, "203.0.113.11"},
		{"global-no-ecs-unknown-client", global, "", nil, dns.RcodeSuccess, "198.51.100.11"}, // the default region
		{"region-ecs", usc1, "27.0.0.0/24", nil, dns.RcodeSuccess, "192.0.2.11"},
		{"zone-fallback", usc1b, "", nil, dns.RcodeSuccess, "192.0.2.11"},
		{"nxdomain", "nope.default.myfed.svc.example.com.", "", nil, dns.RcodeNameError, ""},
		// The hosts of Ingresses (withHosts): the same shards as global's.
		{"host-ecs", "www.example.com.", "27.0.0.0/24", nil, dns.RcodeSuccess, "203.0.113.11"},
		{"wildcard-ecs", "x.apps.example.com.", "27.0.0.0/24", nil, dns.RcodeSuccess, "203.0.113.11"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &counter{sourceWriter: sourceWriter{remote: bc.remote}, rcode: bc.rcode}
			benchServe(b, withHosts(newTestPlugin(b)), query(bc.qname, dns.TypeA, bc.subnet), w)
			if bc.addr != "" {
				if a, ok := w.last.Answer[len(w.last.Answer)-1].(*dns.A); !ok || a.A.String() != bc.addr {
					b.Fatalf("answer %v, want %s last", w.last.Answer, bc.addr)
				}
			}
		})
	}
}

// withHosts adds to every cluster of m an Ingress default/nginx for
// www.example.com and *.apps.example.com, at nginx's load balancer, its
// backend nginx: hosts with the shards of nginx's global name.
func withHosts(m *Meridian) *Meridian {
	for _, c := range testClusters {
		objs := testObjects(c)
		svc := objs.Services[0]
		objs.Ingresses = []*source.Ingress{{Kind: source.KindIngress, Namespace: "default", Name: "nginx", Addresses: svc.Addresses,
			Rules: []source.Rule{{Host: "www.example.com.", Services: []string{"nginx"}}, {Host: "*.apps.example.com.", Services: []string{"nginx"}}}}}
		m.pipe.Sink().Update(c.name, source.Fixed(objs))
	}
	m.pipe.Rebuild()
	return m
}

// benchServe answers msg once (warming the location cache, filling the
// upstream cache), then measures answering it again, and fails unless
// every reply was one w expects. A nil remote address in w is CoreDNS's
// test writer's 10.240.0.1, which GeoIP cannot place.
func benchServe(b *testing.B, m *Meridian, msg *dns.Msg, w *counter) {
	if w.remote == nil {
		w.remote = (&test.ResponseWriter{}).RemoteAddr()
	}
	ctx := context.Background()
	m.ServeDNS(ctx, w, msg)
	b.ReportAllocs()
	n := 1
	for b.Loop() {
		m.ServeDNS(ctx, w, msg)
		n++
	}
	if w.replies != n || w.bad != 0 {
		b.Fatalf("%d replies to %d queries, %d not %s as expected; the last: %v", w.replies, n, w.bad, dns.RcodeToString[w.rcode], w.last)
	}
}

// BenchmarkResolver answers as the resolver role: a local answer (cluster
// IP, kube-dns form, CNAME mode) and a remote one served from the upstream
// cache (no socket once the cache holds the chain). Each fails if the
// authority saw more queries than the warm-up's: none for a local answer,
// one for the remote answer the cache then holds.
func BenchmarkResolver(b *testing.B) {
	// TTLs of 300 s: the cached chain outlives the slowest run.
	up, asked := serveCountedAuthority(b, func(c *Config) { c.Authority.TTL, c.Authority.DegradedTTL = 300, 300 })
	for _, bc := range []struct {
		name, qname string
		ready       int
		cname       bool
		upstream    int64 // queries to the authority: the warm-up's
		addr        string
	}{
		{"local", global, 3, false, 0, "10.96.0.10"},
		{"local-kube-form", kubeGlobal, 3, false, 0, "10.96.0.10"},
		{"local-cname", global, 3, true, 0, "10.96.0.10"},
		{"remote-cached", global, 0, false, 1, "192.0.2.11"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newTestResolver(b, []string{up}, func(c *Config) { c.Resolver.LocalCNAME = bc.cname })
			setLocal(m, bc.ready, health.Up)
			before := asked.Load()
			w := &counter{rcode: dns.RcodeSuccess}
			benchServe(b, m, query(bc.qname, dns.TypeA, ""), w)
			if n := asked.Load() - before; n != bc.upstream {
				b.Fatalf("the authority was asked %d times, want %d: the answers were not local or cached", n, bc.upstream)
			}
			if a, ok := w.last.Answer[len(w.last.Answer)-1].(*dns.A); !ok || a.A.String() != bc.addr {
				b.Fatalf("answer %v, want %s last", w.last.Answer, bc.addr)
			}
		})
	}
}

// BenchmarkResolverRebuild decides 10,000 services of the local cluster, as
// the resolver does after every snapshot.
func BenchmarkResolverRebuild(b *testing.B) {
	m := newTestResolver(b, []string{"127.0.0.1:9"})
	objs := localObjects(3)
	for i := range 10000 {
		svc := objs.Services[0]
		svc.Name = fmt.Sprintf("svc-%d", i)
		objs.Services = append(objs.Services, svc)
		objs.Endpoints = append(objs.Endpoints, &source.EndpointSlice{Namespace: "default", Name: svc.Name + "-1", Service: svc.Name, Ready: 1, Total: 1})
	}
	m.pipe.Sink().Update("us-central1-b", source.Fixed(objs))
	snap := m.pipe.Rebuild()
	b.ReportAllocs()
	for b.Loop() {
		m.res.Publish(snap)
	}
}

// BenchmarkServeDNSScale answers global names of a federation of 10
// clusters with 10 and with 10,000 Services (100 and 100,000 shards),
// asking for 10 or 1,000 different names in turn from five client
// networks: the in-process view of the scale benchmark's query-rate ratio
// (test/kube BenchmarkScale), where a large snapshot costs only in cache
// misses.
func BenchmarkServeDNSScale(b *testing.B) {
	regions := []string{"us-central1", "us-east1", "us-west1", "europe-west1", "europe-west3",
		"asia-east1", "asia-northeast1", "asia-southeast1", "australia-southeast1", "southamerica-east1"}
	subnets := []string{"27.0.0.0/24", "24.0.0.0/24", "81.0.0.0/24", "36.0.0.0/24", "177.0.0.0/24"}
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			m := newTestPlugin(b)
			for ci, region := range regions {
				objs := source.Objects{Nodes: []*source.Node{{Name: "node-1", Region: region, Zone: region + "-a", Ready: true}}}
				for i := range n {
					name := fmt.Sprintf("svc-%05d", i)
					idx := ci*n + i
					objs.Services = append(objs.Services, &source.Service{Namespace: "default", Name: name,
						Addresses: []netip.Addr{netip.AddrFrom4([4]byte{198, byte(18 + idx>>16), byte(idx >> 8), byte(idx)})},
						Ports:     []source.Port{{Name: "http", Protocol: "tcp", Port: 80}}})
					objs.Endpoints = append(objs.Endpoints, &source.EndpointSlice{Namespace: "default", Name: name + "-1", Service: name, Ready: 3, Total: 3})
				}
				m.pipe.Sink().Update("member-"+region, source.Fixed(objs))
				m.pipe.Sink().SetState("member-"+region, health.Up)
			}
			m.pipe.Rebuild()
			var msgs []*dns.Msg
			for i := 0; i < n && i < 1000; i++ {
				name := fmt.Sprintf("svc-%05d.default.myfed.svc.example.com.", i*max(1, n/1000))
				msgs = append(msgs, query(name, dns.TypeA, subnets[i%len(subnets)]))
			}
			w := &counter{rcode: dns.RcodeSuccess, sourceWriter: sourceWriter{remote: (&test.ResponseWriter{}).RemoteAddr()}}
			ctx := context.Background()
			for _, msg := range msgs { // warm the location cache
				m.ServeDNS(ctx, w, msg)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m.ServeDNS(ctx, w, msgs[i%len(msgs)])
				i++
			}
			if w.replies != i+len(msgs) || w.bad != 0 {
				b.Fatalf("%d replies to %d queries, %d not NOERROR with an answer; the last: %v", w.replies, i+len(msgs), w.bad, w.last)
			}
		})
	}
}

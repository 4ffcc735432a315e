package meridian

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// discard is a ResponseWriter that drops replies, so the benchmark measures
// ServeDNS and not a recorder.
type discard struct{ test.ResponseWriter }

func (*discard) WriteMsg(*dns.Msg) error { return nil }

// BenchmarkServeDNS answers a global name for a client subnet whose
// location is already cached: the common path of a busy server.
func BenchmarkServeDNS(b *testing.B) {
	for _, bc := range []struct {
		name, qname, subnet string
		qtype               uint16
	}{
		{"global-ecs", global, "27.0.0.0/24", dns.TypeA},
		{"global-no-ecs", global, "", dns.TypeA},
		{"region-ecs", usc1, "27.0.0.0/24", dns.TypeA},
		{"zone-fallback", usc1b, "", dns.TypeA},
		{"nxdomain", "nope.default.myfed.svc.example.com.", "", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newTestPlugin(b)
			msg := query(bc.qname, bc.qtype, bc.subnet)
			w := &discard{}
			ctx := context.Background()
			m.ServeDNS(ctx, w, msg) // warm the location cache
			b.ReportAllocs()
			for b.Loop() {
				m.ServeDNS(ctx, w, msg)
			}
		})
	}
}

package e2eutil

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Load sends the wire-format queries round-robin to addr over UDP from
// conc goroutines, each waiting for its reply before the next query, for
// d, and returns the answered queries per second and the count of queries
// that got no reply within 1s. Loopback only: addr must be 127.0.0.1 or ::1.
func Load(addr string, queries [][]byte, conc int, d time.Duration) (qps float64, lost int64) {
	var answered atomic.Int64
	var lostN atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range conc {
		wg.Go(func() {
			conn, err := net.Dial("udp", addr)
			if err != nil {
				lostN.Add(1)
				return
			}
			defer conn.Close()
			buf := make([]byte, 4096)
			for i := g; time.Now().Before(deadline); i += conc {
				q := queries[i%len(queries)]
				conn.SetDeadline(time.Now().Add(time.Second))
				if _, err := conn.Write(q); err != nil {
					lostN.Add(1)
					continue
				}
				if _, err := conn.Read(buf); err != nil {
					lostN.Add(1)
					continue
				}
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(answered.Load()) / d.Seconds(), lostN.Load()
}

// Query packs one A query for name with a client subnet.
func Query(name string, subnet net.IPNet) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(1232, false)
	bits, _ := subnet.Mask.Size()
	fam := uint16(1)
	if subnet.IP.To4() == nil {
		fam = 2
	}
	o := m.IsEdns0()
	o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(bits), Address: subnet.IP})
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

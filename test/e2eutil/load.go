package e2eutil

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// LoadResult is what Load measured.
type LoadResult struct {
	// QPS counts good replies per second: NOERROR with at least one answer
	// record, to the query sent.
	QPS float64
	// Lost counts queries that got no reply within 1 s.
	Lost int64
	// Bad counts replies that were not good (an rcode other than NOERROR,
	// no answer, another query's ID, shorter than a header): not counted
	// in QPS, so that failing fast never looks like throughput.
	Bad int64
}

// Load sends the wire-format queries round-robin to addr over UDP from
// conc goroutines, each waiting for its reply before the next query, for
// d. Loopback only: addr must be 127.0.0.1 or ::1.
func Load(addr string, queries [][]byte, conc int, d time.Duration) LoadResult {
	var good, lost, bad atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range conc {
		wg.Go(func() {
			conn, err := net.Dial("udp", addr)
			if err != nil {
				lost.Add(1)
				return
			}
			defer conn.Close()
			buf := make([]byte, 4096)
			for i := g; time.Now().Before(deadline); i += conc {
				q := queries[i%len(queries)]
				conn.SetDeadline(time.Now().Add(time.Second))
				if _, err := conn.Write(q); err != nil {
					lost.Add(1)
					continue
				}
				n, err := conn.Read(buf)
				switch {
				case err != nil:
					lost.Add(1)
				case goodReply(q, buf[:n]):
					good.Add(1)
				default:
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return LoadResult{QPS: float64(good.Load()) / d.Seconds(), Lost: lost.Load(), Bad: bad.Load()}
}

// goodReply reports whether reply answers q (same ID) with NOERROR and at
// least one answer record, read from the header alone.
func goodReply(q, reply []byte) bool {
	return len(reply) >= 12 && reply[0] == q[0] && reply[1] == q[1] &&
		reply[3]&0x0f == dns.RcodeSuccess && binary.BigEndian.Uint16(reply[6:8]) > 0
}

// Query packs one A query for name with a client subnet.
func Query(name string, subnet net.IPNet) []byte { return QueryType(name, dns.TypeA, subnet) }

// QueryType packs one query for name and qtype with a client subnet.
func QueryType(name string, qtype uint16, subnet net.IPNet) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	o := m.IsEdns0()
	o.Option = append(o.Option, subnetOption(subnet))
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

package e2eutil

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// CheckedQuery is one query of a CheckedLoad and the answers it may get.
type CheckedQuery struct {
	Name   string  // for reports
	Wire   []byte  // packed; the load sets the ID
	Expect *Expect // the answers allowed over time
}

// CheckedLoad sends queries over UDP from several sockets, matches every
// reply to its query by socket and ID, checks each answer against its
// query's Expect and records each query's latency in windows of fixed
// length. It runs closed-loop (Saturate: a number of queries in flight per
// socket, to measure the most it can get answered) or open-loop (Paced: a
// fixed rate, whatever the replies do). Loopback only.
type CheckedLoad struct {
	addr    *net.UDPAddr
	queries []CheckedQuery
	qlens   []int // the question section's end in each query
	socks   []*loadSocket
	window  time.Duration
	start   time.Time
	stop    atomic.Bool // no more queries
	quit    atomic.Bool // no more reading
	flight  atomic.Int64
	wg      sync.WaitGroup

	mu       sync.Mutex
	wrongs   []string // the first wrong replies, described
	wrong    atomic.Int64
	unknown  atomic.Int64 // replies to no query in flight, or that do not read
	sendErrs atomic.Int64
}

// loadSocket is one socket and the queries in flight on it, by ID.
type loadSocket struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	pending [1 << 16]inflight
	nextID  uint16
	sent    int64
	stats   []*LatencyWindow // by window of the sending time; the receiver's own
	lost    int64            // queries whose ID came round again unanswered
	buf     []byte
}

// inflight is a query sent and not yet answered; sent 0 is a free slot.
type inflight struct {
	sent  int64 // UnixNano
	query int32
}

// NewCheckedLoad opens sockets UDP sockets to addr (a loopback address).
func NewCheckedLoad(addr string, queries []CheckedQuery, sockets int, window time.Duration) (*CheckedLoad, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	if !ua.IP.IsLoopback() {
		return nil, fmt.Errorf("checked load: %s is not a loopback address", addr)
	}
	l := &CheckedLoad{addr: ua, queries: queries, window: window}
	for _, q := range queries {
		end, ok := skipName(q.Wire, 12)
		if !ok || end+4 > len(q.Wire) {
			return nil, fmt.Errorf("checked load: query %s does not read", q.Name)
		}
		l.qlens = append(l.qlens, end+4)
	}
	for range sockets {
		c, err := net.DialUDP("udp", nil, ua)
		if err != nil {
			l.Close()
			return nil, err
		}
		c.SetReadBuffer(4 << 20)
		c.SetWriteBuffer(4 << 20)
		l.socks = append(l.socks, &loadSocket{conn: c, nextID: uint16(len(l.socks) * 7919)})
	}
	return l, nil
}

// Close closes the sockets.
func (l *CheckedLoad) Close() {
	for _, s := range l.socks {
		s.conn.Close()
	}
}

// LocalPorts are the sockets' ports, to find their kernel drop counts.
func (l *CheckedLoad) LocalPorts() []int {
	var out []int
	for _, s := range l.socks {
		out = append(out, s.conn.LocalAddr().(*net.UDPAddr).Port)
	}
	return out
}

// send sends query qi on socket s.
func (l *CheckedLoad) send(s *loadSocket, qi int) {
	q := l.queries[qi].Wire
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	if s.pending[id].sent != 0 {
		s.lost++ // 65536 queries later, still no reply
		l.flight.Add(-1)
	}
	s.pending[id] = inflight{sent: time.Now().UnixNano(), query: int32(qi)}
	s.sent++
	l.flight.Add(1)
	s.buf = append(s.buf[:0], q...)
	binary.BigEndian.PutUint16(s.buf, id)
	_, err := s.conn.Write(s.buf)
	s.mu.Unlock()
	if err != nil {
		l.sendErrs.Add(1)
	}
}

// receive reads replies on s until the load stops, checking each; next,
// if not nil, is called after each reply (the closed loop sends again).
func (l *CheckedLoad) receive(s *loadSocket, next func()) {
	buf := make([]byte, 4096)
	for {
		s.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := s.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && l.quit.Load() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a timeout while running, or an ICMP error reported on the socket
		}
		recv := time.Now()
		l.check(s, buf[:n], recv)
		if next != nil && !l.stop.Load() {
			next()
		}
	}
}

// check matches one reply to its query and checks it.
func (l *CheckedLoad) check(s *loadSocket, reply []byte, recv time.Time) {
	if len(reply) < 2 {
		l.unknown.Add(1)
		return
	}
	id := binary.BigEndian.Uint16(reply)
	s.mu.Lock()
	f := s.pending[id]
	s.pending[id] = inflight{}
	s.mu.Unlock()
	if f.sent == 0 {
		l.unknown.Add(1)
		return
	}
	l.flight.Add(-1)
	q := l.queries[f.query]
	sent := time.Unix(0, f.sent)
	_, same, key, ok := AnswerKey(reply, q.Wire[12:l.qlens[f.query]])
	good := ok && same && q.Expect.Check(sent, recv, key)
	w := int(sent.Sub(l.start) / l.window)
	for len(s.stats) <= w {
		s.stats = append(s.stats, &LatencyWindow{})
	}
	s.stats[w].add(recv.Sub(sent), good)
	if !good {
		if l.wrong.Add(1) <= 20 {
			l.mu.Lock()
			l.wrongs = append(l.wrongs, fmt.Sprintf("%s: %q (reads %v, same question %v) %v after the start",
				q.Name, key, ok, same, sent.Sub(l.start).Round(time.Millisecond)))
			l.mu.Unlock()
		}
	}
}

// Saturate keeps inFlight queries outstanding on each socket for d and
// returns the replies per second: the most this client and the server
// answer together.
func (l *CheckedLoad) Saturate(inFlight int, d time.Duration) (LoadReport, float64) {
	l.begin()
	for si, s := range l.socks {
		k := si
		next := func() { k++; l.send(s, k%len(l.queries)) }
		l.wg.Go(func() {
			// The first queries from the goroutine that sends the rest:
			// next is not safe for two (a reply can come before the
			// last first query is sent).
			for range inFlight {
				next()
			}
			l.receive(s, next)
		})
	}
	time.Sleep(d)
	r := l.finish(2 * time.Second)
	return r, float64(r.Answered) / d.Seconds()
}

// Paced sends rate queries a second, spread over the sockets, for d, then
// waits up to drain for the last replies. The queries go round-robin.
func (l *CheckedLoad) Paced(rate float64, d, drain time.Duration) LoadReport {
	l.begin()
	per := time.Duration(float64(time.Second) * float64(len(l.socks)) / rate) // between two queries of one socket
	for si, s := range l.socks {
		l.wg.Go(func() { l.receive(s, nil) })
		l.wg.Go(func() {
			// Socket si's queries are due at start + (si + i*sockets)/rate.
			first := l.start.Add(time.Duration(float64(time.Second) * float64(si) / rate))
			for i := 0; ; {
				now := time.Now()
				if now.Sub(l.start) >= d || l.stop.Load() {
					return
				}
				for due := first.Add(time.Duration(i) * per); !due.After(now); due = first.Add(time.Duration(i) * per) {
					l.send(s, (si+i*len(l.socks))%len(l.queries))
					i++
				}
				time.Sleep(time.Until(first.Add(time.Duration(i) * per)))
			}
		})
	}
	time.Sleep(d)
	return l.finish(drain)
}

// begin resets the state for a run.
func (l *CheckedLoad) begin() {
	l.start = time.Now()
	l.stop.Store(false)
	l.quit.Store(false)
	l.flight.Store(0)
	l.wrong.Store(0)
	l.unknown.Store(0)
	l.sendErrs.Store(0)
	l.wrongs = nil
	for _, s := range l.socks {
		s.mu.Lock()
		s.pending = [1 << 16]inflight{}
		s.sent, s.lost, s.stats = 0, 0, nil
		s.mu.Unlock()
	}
}

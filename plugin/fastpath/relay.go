package fastpath

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Relay is a net.PacketConn that a miekg/dns server reads: the packets the
// fast path leaves to the chain are pushed into it, and the server's
// replies are written on the fast path's socket to the client. So a
// packet the fast path does not answer is read, accepted or rejected,
// unpacked, served and packed by the same code as on CoreDNS's own socket
// (miekg/dns's server loop, dnsserver.Server.ServeDNS), byte for byte.
//
// Push never blocks: when the queue is full the packet is dropped (the
// caller counts it), as a kernel socket buffer drops what no one reads in
// time.
type Relay struct {
	queue chan relayed
	out   *net.UDPConn
	done  chan struct{}
	once  sync.Once
	// wake is closed and replaced when a read deadline in the past is set
	// (miekg/dns's shutdown), to wake blocked readers.
	mu       sync.Mutex
	wake     chan struct{}
	deadline time.Time
}

type relayed struct {
	pkt  []byte
	from netip.AddrPort
}

// NewRelay returns a relay that holds up to size packets and writes
// replies on out.
func NewRelay(out *net.UDPConn, size int) *Relay {
	return &Relay{queue: make(chan relayed, max(size, 1)), out: out, done: make(chan struct{}), wake: make(chan struct{})}
}

// Push queues a copy of pkt, from from, for the server. It reports
// whether the packet was queued.
func (r *Relay) Push(pkt []byte, from netip.AddrPort) bool {
	select {
	case <-r.done:
		return false
	default:
	}
	select {
	case r.queue <- relayed{append([]byte(nil), pkt...), from}:
		return true
	default:
		return false
	}
}

// Drain waits until the server has read every queued packet, or until
// limit has passed.
func (r *Relay) Drain(limit time.Duration) {
	for deadline := time.Now().Add(limit); len(r.queue) > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// timeoutError is what a read past its deadline returns; miekg/dns's
// server loop treats it as temporary and checks whether it is stopping.
type timeoutError struct{}

func (timeoutError) Error() string   { return "fastpath: relay read deadline" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// ReadFrom implements net.PacketConn: it returns the next pushed packet,
// cut to len(b) as a datagram socket cuts it, and its sender as a
// *net.UDPAddr, as a UDP socket gives it.
func (r *Relay) ReadFrom(b []byte) (int, net.Addr, error) {
	r.mu.Lock()
	wake, expired := r.wake, !r.deadline.IsZero() && !time.Now().Before(r.deadline)
	r.mu.Unlock()
	if expired {
		return 0, nil, timeoutError{}
	}
	select {
	case p := <-r.queue:
		return copy(b, p.pkt), net.UDPAddrFromAddrPort(p.from), nil
	case <-wake:
		return 0, nil, timeoutError{}
	case <-r.done:
		return 0, nil, net.ErrClosed
	}
}

// WriteTo implements net.PacketConn: it sends b to addr from the fast
// path's socket.
func (r *Relay) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-r.done:
		return 0, net.ErrClosed
	default:
	}
	return r.out.WriteTo(b, addr)
}

// Close implements net.PacketConn. It does not close the fast path's
// socket.
func (r *Relay) Close() error {
	r.once.Do(func() { close(r.done) })
	return nil
}

// LocalAddr implements net.PacketConn: the fast path socket's address.
func (r *Relay) LocalAddr() net.Addr { return r.out.LocalAddr() }

// SetDeadline implements net.PacketConn; only the read deadline matters.
func (r *Relay) SetDeadline(t time.Time) error { return r.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn. A deadline in the past wakes
// every blocked read with a timeout; a future one only applies to reads
// that start after it has passed (miekg/dns sets one before each read so
// that it can notice a shutdown; the wake-up does that here).
func (r *Relay) SetReadDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadline = t
	if !t.IsZero() && !time.Now().Before(t) {
		close(r.wake)
		r.wake = make(chan struct{})
	}
	return nil
}

// SetWriteDeadline implements net.PacketConn; writes do not block.
func (r *Relay) SetWriteDeadline(time.Time) error { return nil }

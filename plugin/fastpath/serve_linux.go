package fastpath

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
)

// Handler answers what the fast path reads, on one socket's goroutine:
// each socket has its own (see Serve), so it may keep scratch space.
type Handler interface {
	// Answer appends the reply to pkt, a packet from from, to out and
	// returns it; ok false leaves the packet to Chain, and an empty reply
	// with ok true is one not sent (rate limiting dropped it). It must not
	// keep pkt or out.
	Answer(out, pkt []byte, from netip.AddrPort) (reply []byte, ok bool)
	// Chain hands pkt to the ordinary path (a Relay's Push), which
	// replies on its own. It must not keep pkt: it copies what it keeps.
	Chain(pkt []byte, from netip.AddrPort)
}

// maxPacket is the read buffer of each packet. The chain reads only the
// first ChainReadSize bytes of a UDP query and Parse refuses a longer one,
// so a longer packet cut here reaches both as it would uncut: 32 buffers
// of 4 KB a socket rather than of 64 KB.
const maxPacket = 4096

// Serve reads the group's sockets, batch packets at a time, one goroutine
// per socket with a Handler of its own from newHandler, answers what the
// handler answers in batches of writes, and hands the rest to its Chain.
// It returns when ctx is done (closing the sockets) or every socket is
// closed.
func (g *Group) Serve(ctx context.Context, newHandler func() Handler, batch int) error {
	batch = max(batch, 1)
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	var wg sync.WaitGroup
	for _, c := range g.Conns {
		h := newHandler()
		wg.Go(func() { serveConn(c, h, batch) })
	}
	wg.Wait()
	return ctx.Err()
}

// serveConn is the loop of one socket.
func serveConn(c *net.UDPConn, h Handler, batch int) {
	m, err := newMmsgConn(c, batch, maxPacket)
	if err != nil {
		return
	}
	v6 := false
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		v6 = true
	}
	out := make([][]byte, 0, batch)
	to := make([]netip.AddrPort, 0, batch)
	outBufs := make([][]byte, batch)
	for i := range outBufs {
		outBufs[i] = make([]byte, 0, 1232)
	}
	for {
		n, err := m.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		out, to = out[:0], to[:0]
		for i := range n {
			pkt, from, ok := m.packet(i)
			if !ok {
				continue
			}
			reply, ok := h.Answer(outBufs[len(out)][:0], pkt, from)
			if !ok {
				h.Chain(pkt, from)
				continue
			}
			if len(reply) == 0 {
				continue // dropped
			}
			outBufs[len(out)] = reply[:0]
			out, to = append(out, reply), append(to, from)
		}
		if len(out) > 0 {
			if _, err := m.write(out, to, v6); errors.Is(err, net.ErrClosed) {
				return
			}
			// Any other error loses the batch's remaining replies, as a
			// write error loses a reply in miekg/dns.
		}
	}
}

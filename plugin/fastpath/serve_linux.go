package fastpath

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Handler answers what the fast path reads, on one socket's goroutine:
// each socket has its own (see Serve), so it may keep scratch space.
type Handler interface {
	// Answer appends the reply to pkt, a packet from from, to out and
	// returns it; ok false leaves the packet to Chain. It must not keep
	// pkt or out.
	Answer(out, pkt []byte, from netip.AddrPort) (reply []byte, ok bool)
	// Chain hands pkt to the ordinary path (a Relay's Push), which
	// replies on its own. It must not keep pkt: it copies what it keeps.
	Chain(pkt []byte, from netip.AddrPort)
}

// batchConn is what the loop needs of x/net's ipv4 and ipv6 PacketConns.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// maxPacket is the read buffer of each packet: the largest UDP payload,
// so that no packet is cut before Parse or the chain reads it.
const maxPacket = 65535

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
	var bc batchConn = ipv4.NewPacketConn(c)
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		bc = ipv6.NewPacketConn(c)
	}
	in := make([]ipv4.Message, batch)
	out := make([]ipv4.Message, 0, batch)
	outBufs := make([][]byte, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, maxPacket)}
		outBufs[i] = make([]byte, 0, 1232)
	}
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		out = out[:0]
		for i := range n {
			m := &in[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			from := ua.AddrPort()
			pkt := m.Buffers[0][:m.N]
			reply, ok := h.Answer(outBufs[len(out)][:0], pkt, from)
			if !ok {
				h.Chain(pkt, from)
				continue
			}
			outBufs[len(out)] = reply[:0]
			out = append(out, ipv4.Message{Buffers: [][]byte{reply}, Addr: m.Addr})
		}
		for len(out) > 0 {
			w, err := bc.WriteBatch(out, 0)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				break // a reply lost, as a write error loses it in miekg/dns
			}
			out = out[w:]
		}
	}
}

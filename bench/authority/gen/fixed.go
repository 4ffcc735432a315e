package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/fastpath"
)

// fixed answers every A query it can parse with one fixed record through
// the fast path's sockets, parser and writer, and nothing else: the
// ceiling of the fast path's I/O on this machine, before any answer logic.
type fixed struct{}

func (fixed) Answer(out, pkt []byte, _ netip.AddrPort) ([]byte, bool) {
	var q fastpath.Query
	var name [fastpath.MaxName]byte
	if !fastpath.Parse(pkt, &q, name[:]) || q.Qtype != dns.TypeA {
		return nil, false
	}
	return fastpath.AppendReply(out, pkt, &q, &fastpath.Records{Rtype: dns.TypeA, TTL: 30, Rdata: [][]byte{{192, 0, 2, 10}}, Scope: 24}), true
}

func (fixed) Chain([]byte, netip.AddrPort) {}

// serveFixed serves fixed on addr with n sockets until interrupted.
func serveFixed(addr string, n, batch int) error {
	g, err := fastpath.ListenGroup(addr, n, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen fixed: %d sockets on %s, batches of %d\n", n, g.Conns[0].LocalAddr(), batch)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	g.Serve(ctx, func() fastpath.Handler { return fixed{} }, batch)
	return nil
}

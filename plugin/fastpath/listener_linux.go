package fastpath

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"
)

// A Listener is the fast path of one address: its socket group, and the
// instance that answers on it now (a Binding). It outlives a Corefile
// reload: the new instance claims it and binds itself once CoreDNS starts
// its server for the address, so the sockets, and their place in the
// address's reuseport group, are kept.
type Listener struct {
	addr    string // host:port
	group   *Group
	sockets int
	cur     atomic.Pointer[Binding]

	mu      sync.Mutex
	owner   *Claim // the latest claim; only it may close the listener
	serving bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// A Binding is what answers on a listener: an instance's per-socket
// answerers and the relay to its server's chain.
type Binding struct {
	NewAnswerer func() Answerer
	relay       *Relay
	server      *dns.Server
}

// Answerer answers what it can of the packets one socket reads (Handler's
// Answer); ok false sends the packet to the chain, and an empty reply with
// ok true sends nothing.
type Answerer interface {
	Answer(out, pkt []byte, from netip.AddrPort) (reply []byte, ok bool)
}

// A Claim is an instance's hold on a listener, from its OnStartup to its
// OnShutdown.
type Claim struct {
	l      *Listener
	rcvbuf int // the receive buffer the kernel gave each socket; 0 if not asked
	bound  atomic.Bool
}

var (
	listenersMu sync.Mutex
	listeners   = map[string]*Listener{}
)

var log = clog.NewWithPlugin("meridian")

// RelayQueue is how many packets wait for the chain, per address, before
// more are dropped.
const RelayQueue = 4096

// bindWait is how long a claim waits for CoreDNS to start the address's
// server before it gives the address back.
const bindWait = 5 * time.Second

// ErrTaken is returned by Claim when the address is already served by a
// socket the fast path cannot place itself before: it must join the
// address's reuseport group first, which only a fresh start allows.
var ErrTaken = errors.New("fastpath: the address is already bound (the fast path takes an address when the process starts, not on a reload that adds it)")

// ClaimAddress claims the fast path of addr (host:port, a specific
// address) with n sockets: the running listener if a previous instance
// has one, else a new socket group, bound before CoreDNS binds its own
// socket. rcvbuf, if not 0, is the receive buffer asked for each socket
// (set again on a listener kept from a previous instance, so a reload
// changes it); the claim's ReadBuffer is what the kernel gave. The claim
// answers nothing until Bind.
func ClaimAddress(addr string, n, rcvbuf int) (*Claim, error) {
	listenersMu.Lock()
	defer listenersMu.Unlock()
	l := listeners[addr]
	created := l == nil
	if created {
		if err := probeFree(addr); err != nil {
			return nil, err
		}
		g, err := ListenGroup(addr, n, true)
		if err != nil {
			return nil, err
		}
		l = &Listener{addr: addr, group: g, sockets: n}
		listeners[addr] = l
	}
	c := &Claim{l: l}
	if rcvbuf > 0 {
		got, err := l.group.SetReadBuffer(rcvbuf)
		if err != nil {
			if created { // give the address back
				l.group.Close()
				delete(listeners, addr)
			}
			return nil, err
		}
		c.rcvbuf = got
	}
	l.mu.Lock()
	l.owner = c
	l.mu.Unlock()
	time.AfterFunc(bindWait, func() {
		if !c.bound.Load() && c.Owner() {
			c.l.close()
		}
	})
	return c, nil
}

// probeFree reports ErrTaken when a UDP socket is bound to addr: a socket
// without SO_REUSEPORT can bind only a free address.
func probeFree(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return ErrTaken
		}
		return err
	}
	return pc.Close()
}

// ReadBuffer is the receive buffer, in bytes, the kernel gave each of the
// claim's sockets, or 0 if the claim asked for none.
func (c *Claim) ReadBuffer() int { return c.rcvbuf }

// Addr is the claimed address.
func (c *Claim) Addr() string { return c.l.addr }

// Owner reports whether c is the latest claim on its listener.
func (c *Claim) Owner() bool {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	return c.l.owner == c
}

// Bind makes c's instance answer on the listener: newAnswerer gives each
// socket's answerer, and the packets they leave go to srv's chain through
// a miekg/dns server reading a Relay, made as CoreDNS's ServePacket makes
// the server of its own socket (the same handler and context keys,
// TSIG secrets, accept function and writer decorator).
//
// On a reload, a previous instance answers until ready reports that this
// one can (the plugin serves: a new instance answers SERVFAIL, Not Ready,
// before it),
// at most ReloadWait; then the previous binding's relay is shut down. On
// a first start it answers at once.
func (c *Claim) Bind(srv *dnsserver.Server, dw dns.DecorateWriter, newAnswerer func() Answerer, ready func() bool) {
	l := c.l
	l.mu.Lock()
	if l.owner != c || l.group == nil {
		l.mu.Unlock()
		return // a newer instance has claimed it, or it was given back
	}
	c.bound.Store(true)
	previous := l.cur.Load() != nil
	l.mu.Unlock()
	if !previous {
		c.bind(srv, dw, newAnswerer)
		return
	}
	go func() {
		for deadline := time.Now().Add(ReloadWait); !ready() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		c.bind(srv, dw, newAnswerer)
	}()
}

// ReloadWait is how long a reloaded instance waits to be ready before it
// takes the fast path over anyway.
const ReloadWait = 30 * time.Second

func (c *Claim) bind(srv *dnsserver.Server, dw dns.DecorateWriter, newAnswerer func() Answerer) {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.owner != c || l.group == nil {
		return
	}
	relay := NewRelay(l.group.Conns[0], RelayQueue)
	ds := &dns.Server{PacketConn: relay, Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		ctx := context.WithValue(context.Background(), dnsserver.Key{}, srv)
		ctx = context.WithValue(ctx, dnsserver.LoopKey{}, 0)
		srv.ServeDNS(ctx, w, r)
	}), TsigSecret: srv.TsigSecret, MsgAcceptFunc: AcceptMessage, DecorateWriter: dw}
	started := make(chan struct{})
	ds.NotifyStartedFunc = func() { close(started) }
	go ds.ActivateAndServe()
	<-started
	old := l.cur.Swap(&Binding{NewAnswerer: newAnswerer, relay: relay, server: ds})
	if old != nil {
		go old.shutdown()
	}
	if !l.serving {
		l.serving = true
		ctx, cancel := context.WithCancel(context.Background())
		l.cancel, l.done = cancel, make(chan struct{})
		go func() {
			defer close(l.done)
			l.group.Serve(ctx, l.newHandler, 32)
		}()
	}
	log.Infof("%s", c)
}

// Release ends c's claim: the listener is closed if c is still its latest
// claim (the instance stops for good); a newer instance's claim keeps it.
func (c *Claim) Release() error {
	if !c.Owner() {
		return nil
	}
	return c.l.close()
}

// close closes the sockets and the relay and forgets the listener.
func (l *Listener) close() error {
	listenersMu.Lock()
	if listeners[l.addr] == l {
		delete(listeners, l.addr)
	}
	listenersMu.Unlock()
	l.mu.Lock()
	g, cancel, done := l.group, l.cancel, l.done
	l.group, l.owner = nil, nil
	l.mu.Unlock()
	if g == nil {
		return nil
	}
	var err error
	if cancel != nil {
		// Give new packets to CoreDNS's socket, and answer what ours
		// hold before closing them.
		if herr := g.Handover(); herr != nil {
			log.Warningf("fast path on %s: hand-over: %v", l.addr, herr)
		}
		time.Sleep(handoverWait)
		cancel()
		<-done
	} else {
		err = g.Close()
	}
	if b := l.cur.Swap(nil); b != nil {
		b.shutdown()
	}
	return err
}

// handoverWait is how long the sockets keep reading after new packets go
// to CoreDNS's socket, before they close: time to answer what they hold.
const handoverWait = 100 * time.Millisecond

// shutdown stops the binding's relay server once it has read what is
// queued, letting the queries it is serving finish.
func (b *Binding) shutdown() {
	b.relay.Drain(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.server.ShutdownContext(ctx)
}

// newHandler is the Handler of one socket: it answers with the current
// binding's answerer for that socket, made again when the binding changes.
func (l *Listener) newHandler() Handler {
	h := &socketHandler{l: l}
	statsMu.Lock()
	stats = append(stats, &h.stats)
	statsMu.Unlock()
	return h
}

type socketHandler struct {
	l     *Listener
	b     *Binding
	ans   Answerer
	stats socketStats
}

// socketStats counts one socket's packets. Only its goroutine writes
// them; a scrape reads them (Totals). The padding keeps two sockets'
// counters off one cache line.
type socketStats struct {
	answered, chained, dropped atomic.Uint64
	_                          [40]byte
}

var (
	statsMu sync.Mutex
	stats   []*socketStats // every socket's, for the life of the process
)

// Totals are the fast path's packet counts over every socket of the
// process: answered by the fast path, handed to the chain, and dropped
// because the chain's queue was full.
func Totals() (answered, chained, dropped uint64) {
	statsMu.Lock()
	defer statsMu.Unlock()
	for _, s := range stats {
		answered += s.answered.Load()
		chained += s.chained.Load()
		dropped += s.dropped.Load()
	}
	return answered, chained, dropped
}

func (h *socketHandler) Answer(out, pkt []byte, from netip.AddrPort) ([]byte, bool) {
	b := h.l.cur.Load()
	if b == nil {
		return nil, false
	}
	if b != h.b {
		h.b, h.ans = b, b.NewAnswerer()
	}
	reply, ok := h.ans.Answer(out, pkt, from)
	if ok {
		h.stats.answered.Store(h.stats.answered.Load() + 1)
	}
	return reply, ok
}

func (h *socketHandler) Chain(pkt []byte, from netip.AddrPort) {
	b := h.l.cur.Load()
	if b != nil && b.relay.Push(pkt, from) {
		h.stats.chained.Store(h.stats.chained.Load() + 1)
		return
	}
	h.stats.dropped.Store(h.stats.dropped.Load() + 1)
}

// String describes the listener for logs.
func (c *Claim) String() string {
	if c.rcvbuf > 0 {
		return fmt.Sprintf("fast path on %s (%d sockets, %d KiB receive buffer each)", c.l.addr, c.l.sockets, c.rcvbuf>>10)
	}
	return fmt.Sprintf("fast path on %s (%d sockets)", c.l.addr, c.l.sockets)
}

// AcceptMessage is the accept function of CoreDNS's server for an
// address where every opcode is allowed (dnsserver.Server's
// acceptMessage, unexported; Meridian's block allows them all so that it
// answers NOTIMP itself): miekg/dns's default, except that a message it
// rejects as not implemented is accepted when it has one question, and
// rejected as malformed otherwise.
func AcceptMessage(h dns.Header) dns.MsgAcceptAction {
	action := dns.DefaultMsgAcceptFunc(h)
	if action != dns.MsgRejectNotImplemented {
		return action
	}
	if h.Qdcount != 1 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

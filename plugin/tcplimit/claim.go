package tcplimit

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/core/dnsserver"

	"github.com/meridian-dns/meridian/plugin/fastpath"
)

// A Claim is an instance's hold on an address's listener, from its
// OnStartup to its OnShutdown.
type Claim struct {
	l     *Listener
	max   int
	bound atomic.Bool
}

// bindWait is how long a claim waits for Bind (CoreDNS starting the
// address's server, seen through the block's UDP writer hook) before it
// gives the address back to CoreDNS's socket. The hook may never come:
// when blocks share an address, CoreDNS calls only the last block's.
var bindWait = 5 * time.Second

// ClaimAddress claims the capped TCP listener of addr (host:port) with a
// cap of max connections: the running listener if a previous instance has
// one, else new sockets. Until Bind, the listener keeps serving the
// previous instance (or resets every connection on a first start, before
// CoreDNS serves); without a Bind within bindWait, it closes.
func ClaimAddress(addr string, max int) (*Claim, error) {
	if max < 1 {
		return nil, fmt.Errorf("tcplimit: a cap of %d connections", max)
	}
	listenersMu.Lock()
	defer listenersMu.Unlock()
	l, err := listenerFor(addr)
	if err != nil {
		return nil, err
	}
	c := &Claim{l: l, max: max}
	l.mu.Lock()
	l.owner = c
	l.mu.Unlock()
	time.AfterFunc(bindWait, func() {
		if !c.bound.Load() && c.Owner() {
			log.Warningf("tcp cap off on %s: CoreDNS did not start the address's server through this block within %v (another block on the address comes last?)", addr, bindWait)
			c.l.close()
		}
	})
	return c, nil
}

// Listener is the claimed listener.
func (c *Claim) Listener() *Listener { return c.l }

// Owner reports whether c is the latest claim on its listener.
func (c *Claim) Owner() bool {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	return c.l.owner == c
}

// Bind makes srv (the claiming instance's server for the address) serve
// the listener's connections under c's cap. On a reload, the previous
// instance serves until ready reports that this one can (as the fast
// path does), at most fastpath.ReloadWait; it then takes no new
// connection, and serves those it has until they close (CoreDNS's own
// reload cuts them instead, with any query in flight).
func (c *Claim) Bind(srv *dnsserver.Server, ready func() bool) {
	if !c.Owner() {
		return
	}
	c.bound.Store(true)
	if c.l.cur.Load() == nil {
		c.bind(srv)
		return
	}
	go func() {
		for deadline := time.Now().Add(fastpath.ReloadWait); !ready() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		c.bind(srv)
	}()
}

func (c *Claim) bind(srv *dnsserver.Server) {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.owner != c || l.closed {
		return
	}
	l.max.Store(int64(c.max))
	old := l.cur.Swap(newBinding(srv, l.Addr()))
	if old != nil {
		old.retire()
	}
	log.Infof("tcp cap on %s: %d connections (%d sockets)", l.addr, c.max, len(l.lns))
	if old == nil && checkOnBind {
		go l.check()
	}
}

// checkOnBind runs the self-check when a new listener is first bound;
// tests of the cap itself turn it off, as its connections count.
var checkOnBind = true

// check runs the listener's self-check once CoreDNS's socket is bound
// too, and says whether the cap holds every connection.
func (l *Listener) check() {
	reached, made := l.SelfCheck(time.Second)
	switch {
	case made == 0:
		log.Warningf("tcp cap on %s: self-check: could not connect", l.addr)
	case reached < made:
		log.Warningf("tcp cap on %s: self-check: %d of %d connections reached the cap's sockets, the rest CoreDNS's, uncapped: the kernel does not prefer the socket of the receiving CPU (Linux 6.1 or later does)", l.addr, reached, made)
	default:
		log.Infof("tcp cap on %s: self-check: %d of %d connections reached the cap's sockets", l.addr, reached, made)
	}
}

// Release ends c's claim: the listener closes if c is still its latest
// claim (the instance stops for good); a newer instance's claim keeps it.
func (c *Claim) Release() error {
	if !c.Owner() {
		return nil
	}
	return c.l.close()
}

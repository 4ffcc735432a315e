package tcplimit

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/fastpath"
)

// binding is the server of an instance's connections: a miekg/dns server
// reading an in-process listener that the accept loop feeds.
type binding struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
	server *dns.Server
}

// newBinding starts the server of srv's connections, made as CoreDNS's
// Server.Serve makes it.
func newBinding(srv *dnsserver.Server, addr net.Addr) *binding {
	b := &binding{conns: make(chan net.Conn), closed: make(chan struct{}), addr: addr}
	b.server = &dns.Server{Listener: (*chanListener)(b), Net: "tcp",
		TsigSecret:    srv.TsigSecret,
		MsgAcceptFunc: fastpath.AcceptMessage,
		MaxTCPQueries: srv.MaxTCPQueries,
		ReadTimeout:   srv.ReadTimeout,
		WriteTimeout:  srv.WriteTimeout,
		IdleTimeout:   func() time.Duration { return srv.IdleTimeout },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			ctx := context.WithValue(context.Background(), dnsserver.Key{}, srv)
			ctx = context.WithValue(ctx, dnsserver.LoopKey{}, 0)
			srv.ServeDNS(ctx, w, r)
		})}
	started := make(chan struct{})
	b.server.NotifyStartedFunc = func() { close(started) }
	go b.server.ActivateAndServe()
	<-started
	return b
}

// give hands c to the binding's server, or closes it if the server has
// stopped.
func (b *binding) give(c net.Conn) {
	select {
	case b.conns <- c:
	case <-b.closed:
		c.Close()
	}
}

// retire stops the binding taking connections; those it has keep being
// served until they close (the client's, or CoreDNS's idle timeout, or
// maxtcpqueries), so that a query in flight on a reload is answered.
// Its server's accept loop returns then.
func (b *binding) retire() {
	(*chanListener)(b).Close()
}

// chanListener is the binding's side of the accept loop, as a
// net.Listener for miekg/dns.
type chanListener binding

func (cl *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-cl.conns:
		return c, nil
	case <-cl.closed:
		return nil, net.ErrClosed
	}
}

func (cl *chanListener) Close() error {
	cl.once.Do(func() { close(cl.closed) })
	return nil
}

func (cl *chanListener) Addr() net.Addr { return cl.addr }

// Package tcplimit caps the concurrent TCP connections of a CoreDNS
// server's address, which neither CoreDNS nor miekg/dns does for plain
// DNS over TCP: each accepted connection costs a goroutine, a file
// descriptor and kernel buffers until the server's read or idle timeout
// closes it.
//
// A Listener binds one TCP socket per CPU of the machine to the address,
// in its SO_REUSEPORT group, each with SO_INCOMING_CPU set to its CPU.
// Since Linux 6.1 the kernel gives a new connection to the group's socket
// of the CPU that receives it, when there is one: with a socket for every
// CPU, every connection comes to the Listener, and CoreDNS's own socket
// (bound to the same address with SO_REUSEPORT, and with no CPU) gets
// none. The kernel does not let a classic BPF program steer a TCP group
// as the UDP fast path steers its own (SO_ATTACH_REUSEPORT_CBPF on a TCP
// socket: "operation not supported" on Linux 6.18). When the Listener
// closes, CoreDNS's socket takes the address's connections again.
//
// The Listener holds at most a cap of connections at a time: at the cap,
// a new connection takes the place of the one that has been quiet
// longest, which is reset. So a flood of idle or slow connections costs
// the server nothing past the cap, never makes Accept wait, and cannot
// keep out a client that asks and reads its answer: to push a connection
// out before its answer, a flood must open the cap's number of
// connections within that answer's round trip. The connections it keeps
// are served by a miekg/dns server made as CoreDNS makes its own (the
// same handler, timeouts, queries per connection and TSIG secrets), bound
// to the instance that claimed the address last: like the UDP fast path
// (package fastpath), the sockets outlive a Corefile reload.
package tcplimit

import (
	"container/list"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

var log = clog.NewWithPlugin("meridian")

// A Listener is the capped TCP sockets of one address.
type Listener struct {
	addr string // host:port
	lns  []*net.TCPListener
	max  atomic.Int64 // the cap of the latest claim
	open atomic.Int64 // connections accepted and not yet closed
	cur  atomic.Pointer[binding]
	done sync.WaitGroup // the accept loops

	probe atomic.Pointer[probe] // a self-check's, while it runs

	lruMu sync.Mutex
	lru   list.List // of *conn, the one quiet longest first

	evicted prometheus.Counter
	conns   prometheus.Gauge

	mu     sync.Mutex
	owner  *Claim // the latest claim; only it may close the listener
	closed bool
}

var (
	listenersMu sync.Mutex
	listeners   = map[string]*Listener{}
)

// listenerFor returns addr's running listener, or binds a new one.
func listenerFor(addr string) (*Listener, error) {
	if l := listeners[addr]; l != nil {
		return l, nil
	}
	cpus, err := possibleCPUs()
	if err != nil {
		return nil, err
	}
	l := &Listener{addr: addr}
	for _, cpu := range cpus {
		ln, err := listenCPU(addr, cpu)
		if err != nil {
			l.closeSockets()
			return nil, err
		}
		l.lns = append(l.lns, ln)
		addr = ln.Addr().String() // the port picked, if it was 0
	}
	label := "dns://" + l.addr
	l.evicted, l.conns = evictedTotal.WithLabelValues(label), connectionsGauge.WithLabelValues(label)
	listeners[l.addr] = l
	for _, ln := range l.lns {
		l.done.Add(1)
		go l.serve(ln)
	}
	return l, nil
}

// listenCPU binds a TCP socket to addr in its reuseport group, for the
// connections that CPU cpu receives.
func listenCPU(addr string, cpu int) (*net.TCPListener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_INCOMING_CPU, cpu)
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// possibleCPUs lists the CPUs the kernel may ever run on
// (/sys/devices/system/cpu/possible, such as "0-3,8-11"): a connection
// may arrive on any of them, whatever the process's own CPUs.
func possibleCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return nil, fmt.Errorf("tcplimit: %w", err)
	}
	cpus, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("tcplimit: /sys/devices/system/cpu/possible: %w", err)
	}
	return cpus, nil
}

// maxCPUs bounds the sockets of one address.
const maxCPUs = 4096

// parseCPUList reads a kernel CPU list ("0-3,8,10-11").
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		if len(cpus)+b-a+1 > maxCPUs {
			return nil, fmt.Errorf("more than %d CPUs in %q", maxCPUs, s)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// Open is the number of connections the listener holds now.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Addr is the listener's address.
func (l *Listener) Addr() net.Addr { return l.lns[0].Addr() }

// Sockets is the number of sockets the listener has bound.
func (l *Listener) Sockets() int { return len(l.lns) }

func (l *Listener) closeSockets() error {
	var first error
	for _, ln := range l.lns {
		if err := ln.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// close closes the sockets (CoreDNS's own socket takes the address's new
// connections; those in the sockets' accept queues at that moment are
// reset) and retires the binding: its connections are served until they
// close.
func (l *Listener) close() error {
	listenersMu.Lock()
	if listeners[l.addr] == l {
		delete(listeners, l.addr)
	}
	listenersMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed, l.owner = true, nil
	l.mu.Unlock()
	err := l.closeSockets()
	l.done.Wait()
	if b := l.cur.Swap(nil); b != nil {
		b.retire()
	}
	return err
}

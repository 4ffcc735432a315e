package fastpath

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Group is the fast path's UDP sockets on one address: n sockets in the
// address's SO_REUSEPORT group, joined before any other (CoreDNS binds
// its own listeners after the plugins' OnStartup), with a classic BPF
// program that sends each packet to the socket of index CPU mod n, so
// that every packet reaches one of them and none a socket that joins the
// group later.
type Group struct {
	Conns []*net.UDPConn
}

// ListenGroup binds n UDP sockets to addr (a port of 0 picks one for all
// of them) with SO_REUSEPORT and attaches the steering program; steer
// false leaves the kernel's hash, for tests that show the difference.
func ListenGroup(addr string, n int, steer bool) (*Group, error) {
	if n < 1 {
		return nil, fmt.Errorf("fastpath: %d sockets", n)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	g := &Group{}
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			g.Close()
			return nil, err
		}
		conn := pc.(*net.UDPConn)
		g.Conns = append(g.Conns, conn)
		if i == 0 {
			addr = conn.LocalAddr().String() // the port picked, for the others
		}
	}
	if steer {
		if err := attachSteering(g.Conns[0], n); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

// attachSteering attaches to conn's reuseport group the program that
// returns the receiving CPU's number modulo n: the index of a socket of
// ours, as they joined the group first.
func attachSteering(conn *net.UDPConn, n int) error {
	return attachProgram(conn, []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtCPUID},
		bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: uint32(n)},
		bpf.RetA{},
	})
}

// Handover steers every new packet to the group's first socket that is
// not ours (index n: CoreDNS's, which joined after ours), so that the
// group can be closed without losing what it has queued: the caller
// keeps reading until the queues are empty, then closes. Once our sockets
// are closed the index is past the group's end and the kernel falls back
// to its hash over the sockets left.
func (g *Group) Handover() error {
	return attachProgram(g.Conns[0], []bpf.Instruction{bpf.RetConstant{Val: uint32(len(g.Conns))}})
}

// attachProgram attaches a classic BPF program to conn's reuseport group,
// replacing any.
func attachProgram(conn *net.UDPConn, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(raw)), Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0]))}
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &fprog)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("fastpath: attach the reuseport program: %w", serr)
	}
	return nil
}

// SetReadBuffer asks for a receive buffer of size bytes on every socket
// and returns the size the kernel gave the first (Linux caps the request
// at net.core.rmem_max and reports double what it keeps for packets, for
// its bookkeeping; the half is returned). The buffer is what holds the
// packets that arrive while the socket's reader is not running: the
// kernel's default, about 208 KiB, holds 256 small queries, 10 ms of a
// socket's share of 50,000 a second on two sockets.
//
// As Unbound does, it tries SO_RCVBUFFORCE first, which passes the cap
// with CAP_NET_ADMIN, then SO_RCVBUF.
func (g *Group) SetReadBuffer(size int) (int, error) {
	got := 0
	for i, c := range g.Conns {
		rc, err := c.SyscallConn()
		if err != nil {
			return 0, err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
			}
			if serr == nil && i == 0 {
				got, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
			}
		}); err != nil {
			return 0, err
		}
		if serr != nil {
			return 0, fmt.Errorf("fastpath: receive buffer: %w", serr)
		}
	}
	return got / 2, nil
}

// Close closes every socket.
func (g *Group) Close() error {
	var first error
	for _, c := range g.Conns {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

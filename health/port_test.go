package health

import (
	"net"
	"net/netip"
	"os"
	"syscall"
)

// reusePort is a net.ListenConfig Control that sets SO_REUSEPORT, so that
// a testServer's listener and the socket that keeps its port while it is
// stopped can be bound to the port at once.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = setReuse(int(fd)) })
	if err != nil {
		return err
	}
	return serr
}

// soReusePort is SO_REUSEPORT on Linux (amd64, arm64 and the other
// asm-generic ports), which package syscall does not name.
const soReusePort = 0xf

func setReuse(fd int) error {
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return err
	}
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soReusePort, 1)
}

// reservePort binds a TCP socket to addr (an IPv4 address) without
// listening: the port stays ours, and a connection to it is refused while
// no listener shares it. listenOn turns the socket into a listener.
func reservePort(addr netip.AddrPort) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := setReuse(fd); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// listenOn makes the reserved socket fd a listener; fd is closed (the
// listener holds a copy).
func listenOn(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), "reserved port")
	defer f.Close()
	if err := syscall.Listen(fd, 128); err != nil {
		return nil, err
	}
	return net.FileListener(f)
}

package e2eutil

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReservePorts: while reserved, a port cannot be bound without
// SO_REUSEPORT (as another process's FreePort would), and a listener with
// SO_REUSEPORT (as CoreDNS's) binds it and takes its connections; once
// released, the listener alone holds it.
func TestReservePorts(t *testing.T) {
	ports, release := reservePorts(t, 3)
	defer release()
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Fatalf("ports %v, want 3 distinct", ports)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("a plain listener bound the reserved %s", addr)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
	}}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("a SO_REUSEPORT listener on the reserved %s: %v", addr, err)
	}
	defer l.Close()
	for range 20 { // every connection reaches the listener, none the reservation
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		a, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		c.Close()
	}
	release()
	if l2, err := net.Listen("tcp", addr); err == nil {
		l2.Close()
		t.Errorf("a plain listener bound %s beside the server's", addr)
	}
}

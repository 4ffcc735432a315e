package e2eutil

import (
	"fmt"
	"net"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// reservePorts returns n distinct ports free on 127.0.0.1 for both TCP
// and UDP, each held by a TCP socket bound with SO_REUSEPORT (not
// listening) until release is called.
//
// A port FreePort returns is free only when it looks. Two test processes
// (go test runs packages side by side) could be given the same one before
// either binds it, and since CoreDNS binds every listener with
// SO_REUSEPORT, both binds succeed and the kernel splits the port's
// traffic between the two servers: a query or a scrape then reaches the
// other one. While the reservation holds, another process's FreePort (a
// bind of port 0 without SO_REUSEPORT) is not given the port, and the
// server started on it, whose listeners do set SO_REUSEPORT, binds it
// beside the reservation. Release once the server has bound its ports.
//
// Meridian's status listener binds without SO_REUSEPORT and so cannot bind
// a reserved port: its port is not reserved (a collision fails its bind,
// and the start is retried).
func reservePorts(t testing.TB, n int) (ports []int, release func()) {
	t.Helper()
	var fds []int
	release = func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
		fds = nil
	}
	for tries := 0; len(ports) < n; tries++ {
		if tries == 100*n {
			release()
			t.Fatal("no free port to reserve")
		}
		fd, port, err := reserveOne()
		if err != nil {
			release()
			t.Fatal(err)
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil || slices.Contains(ports, port) {
			unix.Close(fd)
			continue
		}
		u.Close()
		fds = append(fds, fd)
		ports = append(ports, port)
	}
	return ports, release
}

// reserveOne binds a TCP socket with SO_REUSEPORT to 127.0.0.1 and a port
// the kernel picks.
func reserveOne() (fd, port int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = unix.Getsockname(fd)
	}
	if err != nil {
		unix.Close(fd)
		return 0, 0, fmt.Errorf("reserve a port: %w", err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

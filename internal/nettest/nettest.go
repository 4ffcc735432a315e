// Package nettest holds socket helpers for tests: loopback only.
package nettest

import (
	"net"
	"testing"
)

// ListenPair listens for UDP and TCP on the first port of 127.0.0.1 free
// for both (a busy machine may have a UDP port's number taken for TCP).
func ListenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no port of 127.0.0.1 free for both UDP and TCP")
	return nil, nil
}

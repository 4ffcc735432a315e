//go:build linux

package fastpath

import (
	"context"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestGroupTakesEveryPacket: a socket that joins the group later, as
// CoreDNS's own listener does, gets no packet while the steering program
// is attached, and a share of them without it (so the test can fail).
func TestGroupTakesEveryPacket(t *testing.T) {
	for _, steer := range []bool{true, false} {
		ours, theirs := countReceived(t, steer, 2000)
		t.Logf("steer %v: %d packets to the group, %d to the later socket", steer, ours, theirs)
		switch {
		case steer && (theirs != 0 || ours < 1900):
			t.Errorf("steered: the group got %d packets and the later socket %d of 2000, want all but drops and none", ours, theirs)
		case !steer && theirs == 0:
			t.Errorf("not steered: the later socket got nothing: the test cannot tell")
		}
	}
}

// countReceived sends packets from many source ports to a group of two
// sockets and one socket joined after them, and counts what each side
// received.
func countReceived(t *testing.T, steer bool, packets int) (ours, theirs int) {
	t.Helper()
	g, err := ListenGroup("127.0.0.1:0", 2, steer)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	addr := g.Conns[0].LocalAddr().String()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	later := pc.(*net.UDPConn)
	defer later.Close()

	var mu sync.Mutex
	counts := map[*net.UDPConn]int{}
	var wg sync.WaitGroup
	for _, c := range append([]*net.UDPConn{later}, g.Conns...) {
		wg.Go(func() {
			buf := make([]byte, 64)
			for {
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				if _, _, err := c.ReadFromUDP(buf); err != nil {
					return
				}
				mu.Lock()
				counts[c]++
				mu.Unlock()
			}
		})
	}
	dst, _ := net.ResolveUDPAddr("udp", addr)
	for i := range packets / 10 { // 10 packets from each of many source ports
		s, err := net.DialUDP("udp", nil, dst)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			s.Write([]byte{byte(i)})
		}
		s.Close()
		if i%10 == 9 {
			time.Sleep(time.Millisecond) // a burst beyond a socket's buffer would be dropped
		}
	}
	wg.Wait()
	for c, n := range counts {
		if c == later {
			theirs += n
		} else {
			ours += n
		}
	}
	return ours, theirs
}

// TestReadBufferHoldsBurst: a burst that arrives while no reader runs is
// kept by a socket whose receive buffer SetReadBuffer enlarged, and
// mostly dropped by one with the kernel's default.
func TestReadBufferHoldsBurst(t *testing.T) {
	const burst = 2000
	for _, size := range []int{0, 1 << 20} {
		given := size
		g, err := ListenGroup("127.0.0.1:0", 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			got, err := g.SetReadBuffer(size)
			if err != nil {
				t.Fatal(err)
			}
			if given = got; got < size {
				t.Logf("asked %d bytes, given %d (net.core.rmem_max, without CAP_NET_ADMIN)", size, got)
			}
		}
		c, err := net.Dial("udp", g.Conns[0].LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		q := make([]byte, 40) // a query's size
		for range burst {
			c.Write(q)
		}
		c.Close()
		kept := 0
		buf := make([]byte, 64)
		for {
			g.Conns[0].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, _, err := g.Conns[0].ReadFrom(buf); err != nil {
				break
			}
			kept++
		}
		g.Close()
		t.Logf("receive buffer asked %d: %d of %d packets kept", size, kept, burst)
		switch {
		case size == 0 && kept == burst:
			t.Errorf("the default buffer kept the whole burst: the test cannot tell")
		case size > 0 && given >= size && kept < burst:
			t.Errorf("a %d-byte buffer kept %d of %d packets", size, kept, burst)
		}
	}
}

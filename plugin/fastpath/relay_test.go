package fastpath

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestRelay checks what miekg/dns's server loop relies on: packets come
// out in order with their sender as a *net.UDPAddr, cut to the reader's
// buffer as a datagram is; a full queue drops and counts; a deadline in
// the past wakes a blocked reader with a temporary timeout; Close ends
// reads and pushes.
func TestRelay(t *testing.T) {
	out, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	r := NewRelay(out, 2)
	from := netip.MustParseAddrPort("192.0.2.7:5353")
	big := bytes.Repeat([]byte{7}, 600)
	if !r.Push([]byte{1, 2, 3}, from) || !r.Push(big, from) {
		t.Fatal("push refused with room")
	}
	if r.Push([]byte{9}, from) {
		t.Fatal("push to a full queue accepted")
	}
	b := make([]byte, 512)
	n, addr, err := r.ReadFrom(b)
	if err != nil || n != 3 || addr.(*net.UDPAddr).AddrPort() != from {
		t.Fatalf("first read: %d %v %v", n, addr, err)
	}
	if n, _, _ := r.ReadFrom(b); n != 512 {
		t.Fatalf("a 600-byte packet read into 512 bytes gave %d", n)
	}

	got := make(chan error, 1)
	go func() {
		_, _, err := r.ReadFrom(b)
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r.SetReadDeadline(time.Now().Add(-time.Second))
	select {
	case err := <-got:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("woken read returned %v, want a timeout", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a deadline in the past did not wake the reader")
	}
	r.SetReadDeadline(time.Time{})
	r.Close()
	if _, _, err := r.ReadFrom(b); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if r.Push([]byte{1}, from) {
		t.Fatal("push after close accepted")
	}
}

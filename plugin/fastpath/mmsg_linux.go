package fastpath

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgConn reads and writes a UDP socket in batches with recvmmsg and
// sendmmsg, every header, buffer and socket address made once: nothing is
// allocated per packet (x/net's ReadBatch makes each sender's address).
// The reads and writes wait in Go's netpoller, as net.UDPConn's do.
type mmsgConn struct {
	rc syscall.RawConn

	in     []unix.Mmsghdr
	inIov  []unix.Iovec
	inName []unix.RawSockaddrInet6 // room for either family
	bufs   [][]byte

	out     []unix.Mmsghdr
	outIov  []unix.Iovec
	outName []unix.RawSockaddrInet6
}

// newMmsgConn prepares batches of n packets of up to size bytes on c.
func newMmsgConn(c *net.UDPConn, n, size int) (*mmsgConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	m := &mmsgConn{rc: rc,
		in: make([]unix.Mmsghdr, n), inIov: make([]unix.Iovec, n), inName: make([]unix.RawSockaddrInet6, n), bufs: make([][]byte, n),
		out: make([]unix.Mmsghdr, n), outIov: make([]unix.Iovec, n), outName: make([]unix.RawSockaddrInet6, n)}
	for i := range n {
		m.bufs[i] = make([]byte, size)
		m.inIov[i].Base = &m.bufs[i][0]
		m.in[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.inName[i]))
		m.in[i].Hdr.Iov = &m.inIov[i]
		m.in[i].Hdr.Iovlen = 1
		m.out[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.outName[i]))
		m.out[i].Hdr.Iov = &m.outIov[i]
		m.out[i].Hdr.Iovlen = 1
	}
	return m, nil
}

// read waits for packets and reads up to a batch of them; packet i is
// m.packet(i).
func (m *mmsgConn) read() (int, error) {
	for i := range m.in {
		m.inIov[i].SetLen(len(m.bufs[i]))
		m.in[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		m.in[i].Len = 0
	}
	var n int
	var errno syscall.Errno
	err := m.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.in[0])), uintptr(len(m.in)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(r), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}

// packet returns the i-th packet read and its sender; ok is false for a
// sender of a family other than IPv4 and IPv6.
func (m *mmsgConn) packet(i int) (pkt []byte, from netip.AddrPort, ok bool) {
	pkt = m.bufs[i][:m.in[i].Len]
	sa := &m.inName[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return pkt, netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return pkt, netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port), true
	}
	return pkt, netip.AddrPort{}, false
}

// write sends pkts[i] to to[i], the batch in as few sendmmsg calls as the
// kernel takes; it returns how many were sent before an error.
func (m *mmsgConn) write(pkts [][]byte, to []netip.AddrPort, v6 bool) (int, error) {
	for i, p := range pkts {
		m.outIov[i].Base = &p[0]
		m.outIov[i].SetLen(len(p))
		m.out[i].Hdr.Namelen = setSockaddr(&m.outName[i], to[i], v6)
		m.out[i].Len = 0
	}
	sent := 0
	for sent < len(pkts) {
		var n int
		var errno syscall.Errno
		err := m.rc.Write(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.out[sent])), uintptr(len(pkts)-sent), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			n, errno = int(r), e
			return true
		})
		if err != nil {
			return sent, err
		}
		if errno != 0 {
			return sent, errno
		}
		sent += n
	}
	return sent, nil
}

// setSockaddr writes ap into sa as the socket's family wants it (an IPv4
// address on an IPv6 socket as IPv4-mapped) and returns its length.
func setSockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort, v6 bool) uint32 {
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	if !v6 {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().Unmap().As4()}
		*(*[2]byte)(unsafe.Pointer(&sa4.Port)) = port
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	*(*[2]byte)(unsafe.Pointer(&sa.Port)) = port
	return unix.SizeofSockaddrInet6
}

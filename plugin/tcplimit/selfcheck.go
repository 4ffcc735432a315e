package tcplimit

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// checkConns is how many connections a self-check makes.
const checkConns = 16

// probe records the peer ports of the connections the accept loops take
// while a self-check runs.
type probe struct {
	mu   sync.Mutex
	seen map[int]bool
}

func (p *probe) see(a net.Addr) {
	if ta, ok := a.(*net.TCPAddr); ok {
		p.mu.Lock()
		p.seen[ta.Port] = true
		p.mu.Unlock()
	}
}

func (p *probe) count(ports []int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, port := range ports {
		if p.seen[port] {
			n++
		}
	}
	return n
}

// SelfCheck connects to the listener's address checkConns times from the
// process itself and reports how many of the connections made reached
// the listener's sockets, not CoreDNS's: all of them when the kernel
// prefers the socket of the receiving CPU (Linux 6.1 and later); on an
// older kernel, its hash sends some to CoreDNS's socket, uncapped. The
// connections are closed before it returns.
func (l *Listener) SelfCheck(timeout time.Duration) (reached, made int) {
	p := &probe{seen: map[int]bool{}}
	if !l.probe.CompareAndSwap(nil, p) {
		return 0, 0 // one at a time
	}
	defer l.probe.Store(nil)
	a := l.Addr().(*net.TCPAddr)
	ip := a.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1) // the wildcard sockets take IPv4 too
	}
	target := net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
	var ports []int
	for range checkConns {
		c, err := net.DialTimeout("tcp", target, timeout)
		if err != nil {
			break
		}
		defer c.Close()
		ports = append(ports, c.LocalAddr().(*net.TCPAddr).Port)
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		reached = p.count(ports)
		if reached == len(ports) || time.Now().After(deadline) {
			return reached, len(ports)
		}
	}
}

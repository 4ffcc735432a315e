package e2e

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/test/e2eutil"
)

// TestPacketFuzz sends the demo server (fast path on) MERIDIAN_FUZZ_PACKETS
// hostile packets (default 100,000), mutated from valid queries or random,
// over UDP in bursts of 1,000 sent without waiting and over TCP through a
// pool of connections, with lying length prefixes, partial messages and
// connections closed midway. After each burst a correct query over UDP
// (fast path and chain) and TCP must get the right answer. Every reply
// must be a well-formed DNS response with the query's ID and, when the
// query parsed, its question. MERIDIAN_FUZZ_SEED changes the seed.
func TestPacketFuzz(t *testing.T) {
	total, seed := envInt(t, "MERIDIAN_FUZZ_PACKETS", 100000), envInt(t, "MERIDIAN_FUZZ_SEED", 16)
	t.Logf("seed %d (MERIDIAN_FUZZ_SEED), %d hostile packets (MERIDIAN_FUZZ_PACKETS)", seed, total)
	s := startDemo(t)
	r := rand.New(rand.NewPCG(uint64(seed), 6))
	corpus := fuzzCorpus(r)
	const udpBurst = 1000
	bursts := max(1, total*85/100/udpBurst)
	tcpPerBurst := max(1, (total-bursts*udpBurst)/bursts)
	before := s.Scrape(t)
	udp, tcp := newFuzzStats(), newFuzzStats()
	start := time.Now()
	var udpTime, tcpTime, checkTime time.Duration
	for b := range bursts {
		pkts := make([][]byte, udpBurst)
		for i := range pkts {
			pkts[i] = mutate(r, corpus)
		}
		t0 := time.Now()
		udp.add(sendUDP(t, s.DNS, pkts))
		t1 := time.Now()
		tcp.add(sendTCP(t, s.DNS, uint64(seed)<<20|uint64(b), corpus, tcpPerBurst))
		t2 := time.Now()
		checkAnswers(t, s.Server, b)
		udpTime, tcpTime, checkTime = udpTime+t1.Sub(t0), tcpTime+t2.Sub(t1), checkTime+time.Since(t2)
	}
	took := time.Since(start)
	for _, st := range []struct {
		name string
		*fuzzStats
	}{{"udp", udp}, {"tcp", tcp}} {
		t.Logf("%s: %d packets sent (%d connections), %d replies, by rcode %s; %d FORMERR; %d did not parse, %d with another ID, %d with another question, %d not responses; %d SERVFAIL to a query with a question",
			st.name, st.sent, st.conns, st.replies, st.byRcode(), st.rcodes["FORMERR"], st.unparsed, st.badID, st.badQuestion, st.notResponse, st.servfailAsked)
		for _, e := range st.examples {
			t.Errorf("%s: %s", st.name, e)
		}
	}
	t.Logf("%d bursts in %v (UDP %v, TCP %v, checks %v); seed %d", bursts, took.Round(time.Millisecond),
		udpTime.Round(time.Millisecond), tcpTime.Round(time.Millisecond), checkTime.Round(time.Millisecond), seed)
	after := s.Scrape(t)
	for _, path := range []string{"answered", "chain", "dropped"} {
		series := `coredns_meridian_fastpath_packets_total{path="` + path + `"}`
		t.Logf("fast path %s: %v", path, metricValue(after, series)-metricValue(before, series))
	}
	if d := metricValue(after, `coredns_meridian_fastpath_packets_total{path="answered"}`) - metricValue(before, `coredns_meridian_fastpath_packets_total{path="answered"}`); d < float64(bursts) {
		t.Errorf("the fast path answered %v packets: it was not exercised", d)
	}
	if udp.sent+tcp.sent < total {
		t.Errorf("sent %d packets, want %d", udp.sent+tcp.sent, total)
	}
	if out := s.Out.String(); strings.Contains(strings.ToLower(out), "panic") {
		t.Errorf("the server's output mentions a panic:\n%s", out)
	}
	if err := syscallAlive(s.Pid); err != nil {
		t.Errorf("the server is gone: %v", err)
	}
}

// checkAnswers asks for nginx from a European client over UDP (the fast
// path's A) and TCP (the chain), and for the apex SOA over UDP (the
// chain): each must come back right. A query that gets no reply in 2 s
// (lost, or a slow machine) is asked again, twice at most.
func checkAnswers(t *testing.T, s *e2eutil.Server, burst int) {
	t.Helper()
	for _, c := range []struct {
		network, name string
		qtype         uint16
		ok            func(*dns.Msg) bool
	}{
		{"udp", nginx, dns.TypeA, func(m *dns.Msg) bool { return e2eutil.InRange(e2eutil.Addrs(m), "198.51.100.") }},
		{"tcp", nginx, dns.TypeA, func(m *dns.Msg) bool { return e2eutil.InRange(e2eutil.Addrs(m), "198.51.100.") }},
		{"udp", "example.com.", dns.TypeSOA, func(m *dns.Msg) bool {
			return len(m.Answer) == 1 && m.Answer[0].Header().Rrtype == dns.TypeSOA && m.Answer[0].Header().Name == "example.com."
		}},
	} {
		var m *dns.Msg
		var err error
		for range 3 {
			if m, err = s.Exchange(c.network, c.name, c.qtype, "81.0.0.0/24"); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("after burst %d: %s %s %s: %v", burst, c.network, c.name, dns.TypeToString[c.qtype], err)
		}
		if m.Rcode != dns.RcodeSuccess || !m.Authoritative || !c.ok(m) {
			t.Fatalf("after burst %d: %s %s %s: wrong answer\n%v", burst, c.network, c.name, dns.TypeToString[c.qtype], m)
		}
	}
}

// udpPause is the pause after every 50 UDP packets, and udpQuiet how long
// a burst waits for more replies after the last.
const (
	udpPause = 2 * time.Millisecond
	udpQuiet = 50 * time.Millisecond
)

// sendUDP sends pkts from one new socket, each with its index as ID,
// without waiting, while reading replies until none has come for 300 ms
// after the last send.
func sendUDP(t *testing.T, addr string, pkts [][]byte) *fuzzStats {
	t.Helper()
	c := dialUDP(t, addr)
	c.SetReadBuffer(8 << 20)
	for i, p := range pkts {
		if len(p) >= 2 {
			binary.BigEndian.PutUint16(p, uint16(i))
		}
	}
	st := newFuzzStats()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			c.SetReadDeadline(time.Now().Add(udpQuiet))
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			var q []byte
			if id := int(binary.BigEndian.Uint16(buf)); n >= 2 && id < len(pkts) && len(pkts[id]) >= 2 {
				q = pkts[id]
			}
			st.reply(q, buf[:n], true)
		}
	}()
	for i, p := range pkts {
		c.Write(p) // a refused write (a full buffer) is a loss like any other
		if i%50 == 49 {
			time.Sleep(udpPause) // else most would overflow the server's socket buffer
		}
	}
	<-done
	c.Close()
	st.sent = len(pkts)
	return st
}

// sendTCP sends n hostile messages over connections from a pool of eight
// workers and reads what comes back on each.
func sendTCP(t *testing.T, addr string, seed uint64, corpus [][]byte, n int) *fuzzStats {
	t.Helper()
	const workers = 8
	var (
		mu  sync.Mutex
		all = newFuzzStats()
		wg  sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			st := newFuzzStats()
			for st.sent < n/workers {
				tcpConn(t, addr, r, corpus, st)
			}
			mu.Lock()
			all.add(st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}

// tcpConn opens one connection and writes 1 to 20 messages, mostly
// framed honestly; one in ten lies about its length (longer or shorter),
// one in ten ends partway through a message. Most connections then shut
// their writing side and read replies until the server closes; one in
// ten is reset at once.
func tcpConn(t *testing.T, addr string, r *rand.Rand, corpus [][]byte, st *fuzzStats) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
		st.sent++ // not to loop forever on a dead server
		return
	}
	defer conn.Close()
	st.conns++
	var (
		stream []byte
		pkts   = map[uint16][]byte{}
		inStep = true
	)
	for i := range 1 + r.IntN(20) {
		p := mutate(r, corpus)
		if len(p) >= 2 {
			binary.BigEndian.PutUint16(p, uint16(i))
			pkts[uint16(i)] = p
		}
		st.sent++
		switch r.IntN(20) {
		case 0: // longer than the message
			stream = binary.BigEndian.AppendUint16(stream, uint16(len(p)+1+r.IntN(1000)))
			inStep = false
		case 1: // shorter
			stream = binary.BigEndian.AppendUint16(stream, uint16(r.IntN(len(p)+1)))
			inStep = false
		case 2: // cut partway, and the connection ends
			stream = binary.BigEndian.AppendUint16(stream, uint16(len(p)))
			stream = append(stream, p[:r.IntN(len(p)+1)]...)
			goto write
		default:
			stream = binary.BigEndian.AppendUint16(stream, uint16(len(p)))
		}
		stream = append(stream, p...)
	}
write:
	for len(stream) > 0 { // in pieces, so the server reads partial frames
		k := min(len(stream), 1+r.IntN(512))
		if _, err := conn.Write(stream[:k]); err != nil {
			return // the server closed on garbage
		}
		stream = stream[k:]
	}
	tc := conn.(*net.TCPConn)
	if r.IntN(10) == 0 {
		tc.SetLinger(0) // reset, unread
		return
	}
	tc.CloseWrite()
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [2]byte
	for {
		if _, err := readFull(tc, hdr[:]); err != nil {
			return
		}
		b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := readFull(tc, b); err != nil {
			st.replies++
			st.unparsed++
			st.example("a reply cut short: %x", b)
			return
		}
		var q []byte
		if len(b) >= 2 {
			q = pkts[binary.BigEndian.Uint16(b)]
		}
		st.reply(q, b, inStep)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// syscallAlive reports whether process pid is still running (not gone,
// not a zombie).
func syscallAlive(pid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
		return fmt.Errorf("process %d is a zombie", pid)
	}
	return nil
}

package e2eutil

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// PerfResult is what one dnsperf run measured.
type PerfResult struct {
	QPS       float64 // replies per second
	Sent      int64
	Lost      int64
	NoError   int64 // replies with rcode NOERROR
	RawOutput string
}

var (
	perfQPS     = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	perfSent    = regexp.MustCompile(`Queries sent:\s+([0-9]+)`)
	perfLost    = regexp.MustCompile(`Queries lost:\s+([0-9]+)`)
	perfNoError = regexp.MustCompile(`NOERROR ([0-9]+)`)
)

// Dnsperf runs Debian's dnsperf pinned to CPU cpu against addr over UDP
// for d, with 4 sockets and up to 100 queries in flight (what saturates a
// Go server on one core here), sending the wire-format queries round-robin
// from a binary query file. Loopback only: addr must be 127.0.0.1 or ::1.
func Dnsperf(t testing.TB, addr string, queries [][]byte, d time.Duration, cpu int) PerfResult {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("dnsperf: %q is not a loopback address", addr)
	}
	if _, err := exec.LookPath("dnsperf"); err != nil {
		t.Fatal("dnsperf is not installed: make tools (hack/install-tools.sh) installs it from Debian")
	}
	file := filepath.Join(t.TempDir(), "queries.bin")
	var buf []byte
	for _, q := range queries { // -B: each query after its length, 16 bits, network order
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(q)))
		buf = append(buf, q...)
	}
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	secs := max(1, int(d/time.Second))
	cmd := exec.Command("timeout", fmt.Sprint(secs+30), "taskset", "-c", fmt.Sprint(cpu),
		"dnsperf", "-B", "-d", file, "-s", host, "-p", port, "-c", "4", "-T", "1", "-q", "100", "-l", fmt.Sprint(secs))
	out, err := cmd.CombinedOutput()
	r := PerfResult{RawOutput: string(out)}
	if err != nil {
		t.Fatalf("dnsperf: %v\n%s", err, out)
	}
	num := func(re *regexp.Regexp) string {
		if m := re.FindSubmatch(out); m != nil {
			return string(m[1])
		}
		t.Fatalf("dnsperf: no %q in its output:\n%s", re, out)
		return ""
	}
	r.QPS, _ = strconv.ParseFloat(num(perfQPS), 64)
	r.Sent, _ = strconv.ParseInt(num(perfSent), 10, 64)
	r.Lost, _ = strconv.ParseInt(num(perfLost), 10, 64)
	r.NoError, _ = strconv.ParseInt(num(perfNoError), 10, 64)
	return r
}

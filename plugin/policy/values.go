package policy

import (
	"strconv"
	"strings"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/dnsname"
)

// Bounds of the values, read by the setters and said by the settings' Want.
const (
	maxShards      = 64
	maxFailover    = 32
	maxWeights     = 256
	maxWeight      = 1_000_000
	maxMinReady    = 1 << 20
	maxRiseFall    = 100
	maxPathLen     = 1024
	maxBodyLen     = 256
	minInterval    = time.Second
	maxInterval    = time.Hour
	maxHostnameLen = 253
)

// The set functions are the settings' Set: each parses v into p, or
// leaves p as it was and returns ErrValue.

func setKind(p *Policy, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "closest":
		p.Kind = Closest
	case "failover":
		p.Kind = Failover
	case "weighted":
		p.Kind = Weighted
	case "roundrobin":
		p.Kind = RoundRobin
	default:
		return ErrValue
	}
	return nil
}

// intIn parses a decimal integer from lo to hi.
func intIn(v string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return n, err == nil && n >= lo && n <= hi
}

func setShards(p *Policy, v string) error {
	n, ok := intIn(v, 1, maxShards)
	if !ok {
		return ErrValue
	}
	p.Shards = n
	return nil
}

func setMinReady(p *Policy, v string) error {
	n, ok := intIn(v, 1, maxMinReady)
	if !ok {
		return ErrValue
	}
	p.MinReady = n
	return nil
}

func setBackends(p *Policy, v string) error {
	switch strings.ToLower(v) {
	case "all":
		p.AnyBackend = false
	case "any":
		p.AnyBackend = true
	default:
		return ErrValue
	}
	return nil
}

func setRise(p *Policy, v string) error {
	n, ok := intIn(v, 1, maxRiseFall)
	if !ok {
		return ErrValue
	}
	p.Probe.Rise = n
	return nil
}

func setFall(p *Policy, v string) error {
	n, ok := intIn(v, 1, maxRiseFall)
	if !ok {
		return ErrValue
	}
	p.Probe.Fall = n
	return nil
}

// share parses a number from 0 to 100 (with an optional % sign) as a
// share from 0 to 1; with plain true, a plain number is already a share
// from 0 to 1 and only "N%" is a percentage.
func share(v string, plain bool) (float64, bool) {
	s := strings.TrimSpace(v)
	pct, isPct := strings.CutSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	if err != nil {
		return 0, false
	}
	if isPct || !plain {
		f /= 100
	}
	return f, f >= 0 && f <= 1 // false for NaN
}

func setMinReadyFraction(p *Policy, v string) error {
	f, ok := share(v, true)
	if !ok {
		return ErrValue
	}
	p.MinReadyFraction = f
	return nil
}

func setSpill(p *Policy, v string) error {
	f, ok := share(v, false)
	if !ok {
		return ErrValue
	}
	p.Spill = f
	return nil
}

// list splits "a, b, c" into its trimmed, lower-case entries.
func list(v string) []string {
	parts := strings.Split(v, ",")
	for i, s := range parts {
		parts[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return parts
}

func setFailover(p *Policy, v string) error {
	entries := list(v)
	if len(entries) > maxFailover {
		return ErrValue
	}
	for i, e := range entries {
		if !isLabel(e) || indexOf(entries[:i], e) >= 0 {
			return ErrValue
		}
	}
	p.Failover = entries
	return nil
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

func setWeights(p *Policy, v string) error {
	entries := list(v)
	if len(entries) > maxWeights {
		return ErrValue
	}
	ws := make([]Weight, 0, len(entries))
	for _, e := range entries {
		name, num, found := strings.Cut(e, "=")
		name = strings.TrimSpace(name)
		w, ok := intIn(num, 0, maxWeight)
		if !found || !ok || !isLabel(name) || hasWeight(ws, name) {
			return ErrValue
		}
		ws = append(ws, Weight{Cluster: name, Weight: w})
	}
	p.Weights = ws
	return nil
}

func hasWeight(ws []Weight, cluster string) bool {
	for _, w := range ws {
		if w.Cluster == cluster {
			return true
		}
	}
	return false
}

func setProbe(p *Policy, v string) error {
	c, err := health.ParseCheck(strings.TrimSpace(v))
	if err != nil {
		return ErrValue
	}
	p.Probe.Check = c
	return nil
}

func setProbePort(p *Policy, v string) error {
	s := strings.ToLower(strings.TrimSpace(v))
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, ok := intIn(s, 1, 65535)
		if !ok {
			return ErrValue
		}
		p.Probe.Port, p.ProbePortName = uint16(n), ""
		return nil
	}
	if !isLabel(s) {
		return ErrValue
	}
	p.Probe.Port, p.ProbePortName = 0, s
	return nil
}

func setProbePath(p *Policy, v string) error {
	s := strings.TrimSpace(v)
	ok := strings.HasPrefix(s, "/") && len(s) <= maxPathLen
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] > ' ' && s[i] < 0x7f
	}
	if !ok {
		return ErrValue
	}
	p.Probe.Path = s
	return nil
}

func setProbeHost(p *Policy, v string) error {
	s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	if !isHostname(s) {
		return ErrValue
	}
	p.Probe.Host = s
	return nil
}

// duration parses a positive Go duration from lo to hi.
func duration(v string, lo, hi time.Duration) (time.Duration, bool) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	return d, err == nil && d > 0 && d >= lo && d <= hi
}

func setProbeInterval(p *Policy, v string) error {
	d, ok := duration(v, minInterval, maxInterval)
	if !ok {
		return ErrValue
	}
	p.Probe.Interval = d
	return nil
}

func setProbeTimeout(p *Policy, v string) error {
	d, ok := duration(v, 0, maxInterval)
	if !ok {
		return ErrValue
	}
	p.Probe.Timeout = d
	return nil
}

func setProbeExpect(p *Policy, v string) error {
	lo, hi, err := health.ParseExpect(v)
	if err != nil {
		return ErrValue
	}
	p.Probe.ExpectLow, p.Probe.ExpectHigh = lo, hi
	return nil
}

func setProbeBody(p *Policy, v string) error {
	if len(v) > maxBodyLen {
		return ErrValue
	}
	p.Probe.Body = v
	return nil
}

// isLabel reports whether s is a DNS label (dnsname.IsLabel); callers
// lower-case s first.
func isLabel(s string) bool {
	return dnsname.IsLabel(s)
}

// isHostname reports whether s is a host name of DNS labels separated by
// dots, at most 253 bytes, without a trailing dot (dnsname.IsDomain; an
// IPv4 address is accepted as before); callers lower-case s first.
func isHostname(s string) bool {
	return !strings.HasSuffix(s, ".") && dnsname.IsDomain(s)
}

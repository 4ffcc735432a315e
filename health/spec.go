package health

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Key names one shard: the part of a federated service in one cluster.
type Key struct {
	Cluster   string
	Namespace string
	Name      string
}

// String returns "cluster/namespace/name", for logs.
func (k Key) String() string { return k.Cluster + "/" + k.Namespace + "/" + k.Name }

// TargetKey names one probe target: one load-balancer address (or
// hostname) of one shard.
type TargetKey struct {
	Key
	// Addr is the address probed; the zero AddrPort when Host is set.
	Addr netip.AddrPort
	// Host is a load-balancer hostname (with its trailing dot) probed at
	// Port when the shard has no address; "" otherwise.
	Host string
	Port uint16
}

// String returns the shard and the address probed, for logs.
func (t TargetKey) String() string {
	if t.Host != "" {
		return t.Key.String() + " " + strings.TrimSuffix(t.Host, ".") + ":" + strconv.Itoa(int(t.Port))
	}
	return t.Key.String() + " " + t.Addr.String()
}

// Check is the kind of an active probe.
type Check uint8

// The checks. None means the shard is not probed and only passive health
// counts.
const (
	None  Check = iota
	TCP         // a TCP connection opens within the timeout
	HTTP        // an HTTP GET returns an expected status (and body)
	HTTPS       // the same over TLS; the certificate is not verified
)

// String returns the name used in annotations, the Corefile and metrics.
func (c Check) String() string {
	switch c {
	case None:
		return "off"
	case TCP:
		return "tcp"
	case HTTP:
		return "http"
	case HTTPS:
		return "https"
	}
	return "unknown"
}

// ParseCheck parses "off", "tcp", "http" or "https".
func ParseCheck(s string) (Check, error) {
	switch strings.ToLower(s) {
	case "off", "none":
		return None, nil
	case "tcp":
		return TCP, nil
	case "http":
		return HTTP, nil
	case "https":
		return HTTPS, nil
	}
	return None, fmt.Errorf("%w: %q is not off, tcp, http or https", ErrSpec, s)
}

// Defaults of a Spec, after HAProxy (rise 2, fall 3) and Route 53 (a
// failure threshold of 3); the interval is gdnsd's 10 s.
const (
	DefaultInterval   = 10 * time.Second
	DefaultTimeout    = 2 * time.Second
	DefaultRise       = 2
	DefaultFall       = 3
	DefaultExpectLow  = 200
	DefaultExpectHigh = 399
	DefaultPath       = "/"
)

// ErrSpec is a probe setting that cannot be used.
var ErrSpec = errors.New("bad probe setting")

// Spec says how the addresses of one shard are probed.
type Spec struct {
	// Check is the kind of probe; None means no probe.
	Check Check
	// Port is the port probed on each address. Zero means the caller
	// resolves it (the service's first TCP port).
	Port uint16
	// Path is the HTTP(S) request path; "" means DefaultPath.
	Path string
	// Host is the HTTP Host header and TLS server name; "" means the
	// address probed.
	Host string
	// Interval is the time between two probes of one target; Timeout the
	// most one probe may take (at most Interval).
	Interval time.Duration
	Timeout  time.Duration
	// ExpectLow and ExpectHigh bound the HTTP statuses that pass.
	ExpectLow, ExpectHigh int
	// Body, when not "", must appear in the first 64 KiB of the HTTP body.
	Body string
	// Rise is how many passing probes in a row bring a down target up;
	// Fall how many failing ones in a row take an up target down.
	Rise, Fall int
}

// DefaultSpec is the spec a probe starts from before the Corefile and the
// Service's annotations change it: no check, default timing.
func DefaultSpec() Spec {
	return Spec{
		Interval:   DefaultInterval,
		Timeout:    DefaultTimeout,
		ExpectLow:  DefaultExpectLow,
		ExpectHigh: DefaultExpectHigh,
		Path:       DefaultPath,
		Rise:       DefaultRise,
		Fall:       DefaultFall,
	}
}

// Validate reports the first setting of s that cannot be used.
func (s Spec) Validate() error {
	switch {
	case s.Check > HTTPS:
		return fmt.Errorf("%w: unknown check %d", ErrSpec, s.Check)
	case s.Interval <= 0:
		return fmt.Errorf("%w: interval %v is not positive", ErrSpec, s.Interval)
	case s.Timeout <= 0 || s.Timeout > s.Interval:
		return fmt.Errorf("%w: timeout %v is not between 0 and the interval %v", ErrSpec, s.Timeout, s.Interval)
	case s.Rise < 1 || s.Fall < 1:
		return fmt.Errorf("%w: rise %d and fall %d must be at least 1", ErrSpec, s.Rise, s.Fall)
	case s.ExpectLow < 100 || s.ExpectHigh > 599 || s.ExpectLow > s.ExpectHigh:
		return fmt.Errorf("%w: expected statuses %d-%d are not a range within 100-599", ErrSpec, s.ExpectLow, s.ExpectHigh)
	case s.Path != "" && !strings.HasPrefix(s.Path, "/"):
		return fmt.Errorf("%w: path %q does not start with /", ErrSpec, s.Path)
	}
	return nil
}

// ParseExpect parses an HTTP status range "200-399" or a single status "204".
func ParseExpect(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("%w: %q is not a status range such as 200-399", ErrSpec, s)
	}
	return lo, hi, nil
}

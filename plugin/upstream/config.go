package upstream

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/logging"
)

// Config says where an Upstream sends queries, how long it waits, and what
// it caches. Every field but Servers has a usable zero value.
type Config struct {
	// Servers are the authoritative Meridian servers as IP:port
	// ("10.0.0.53:53", "[fd00::53]:53"), in the order of preference. At
	// least one is required; host names are refused, so reaching the
	// upstream never depends on name resolution.
	Servers []string
	// Net is the transport of each server's first attempt: "udp" or "tcp".
	// Empty means "udp". Over UDP a truncated reply is asked again over TCP
	// from the same server.
	Net string
	// Timeout bounds one attempt at one server: dial, send and wait for a
	// matching reply. Zero means 2s.
	Timeout time.Duration
	// Total bounds a whole Exchange, every server and retry included; the
	// caller's ctx can only shorten it. Zero means 5s.
	Total time.Duration
	// Failback is how long queries keep starting at a server other than
	// Servers[0] after it answered for failed servers before it; the next
	// query after that starts at Servers[0] again. Zero means 30s.
	Failback time.Duration
	// CacheSize is how many replies the cache holds. Zero means no cache;
	// negative is an error.
	CacheSize int
	// MaxTTL caps the TTL of every cached record, and so how long an entry
	// lives. Zero means 300s.
	MaxTTL time.Duration
	// Clock tells the time to the cache and to Failback. Nil means the
	// system clock. Timeout and Total are socket deadlines, always on the
	// system clock.
	Clock clock.Clock
	// Dial opens the connection of one attempt, with network "udp" or
	// "tcp". Nil means a net.Dialer. ctx carries the attempt's deadline.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Registerer receives the metrics. Nil means no metrics.
	Registerer prometheus.Registerer
	// Logger receives changes of the starting server, never one line per
	// query. Nil discards them.
	Logger logging.Logger
}

// Defaults of the zero Config fields.
const (
	defaultTimeout  = 2 * time.Second
	defaultTotal    = 5 * time.Second
	defaultFailback = 30 * time.Second
	defaultMaxTTL   = 300 * time.Second
)

// settings is a validated Config with its defaults filled in.
type settings struct {
	Config
	servers []string // normalized addresses, as metric labels and in errors
}

// validate checks c and fills in its defaults.
func (c Config) validate() (settings, error) {
	s := settings{Config: c}
	if len(c.Servers) == 0 {
		return s, fmt.Errorf("%w: no servers", ErrConfig)
	}
	seen := make(map[netip.AddrPort]bool, len(c.Servers))
	for _, a := range c.Servers {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return s, fmt.Errorf("%w: server %q is not IP:port: %w", ErrConfig, a, err)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			return s, fmt.Errorf("%w: server %q: port 0 or zone", ErrConfig, a)
		}
		if seen[ap] {
			return s, fmt.Errorf("%w: server %q listed twice", ErrConfig, a)
		}
		seen[ap] = true
		s.servers = append(s.servers, ap.String())
	}
	switch s.Net {
	case "":
		s.Net = "udp"
	case "udp", "tcp":
	default:
		return s, fmt.Errorf("%w: net %q: want udp or tcp", ErrConfig, c.Net)
	}
	if c.Timeout < 0 || c.Total < 0 || c.Failback < 0 || c.MaxTTL < 0 || c.CacheSize < 0 {
		return s, fmt.Errorf("%w: negative timeout, total, failback, max TTL or cache size", ErrConfig)
	}
	s.Timeout = orDefault(c.Timeout, defaultTimeout)
	s.Total = orDefault(c.Total, defaultTotal)
	s.Failback = orDefault(c.Failback, defaultFailback)
	s.MaxTTL = orDefault(c.MaxTTL, defaultMaxTTL)
	if s.MaxTTL < time.Second {
		return s, fmt.Errorf("%w: max TTL %v is under 1s", ErrConfig, c.MaxTTL)
	}
	s.Clock = clock.Or(s.Clock)
	s.Logger = logging.OrNop(s.Logger)
	if s.Dial == nil {
		var d net.Dialer
		s.Dial = d.DialContext
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

package health

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// Errors of failing probes wrap one of these, or are the network's own.
var (
	// ErrNotAllowed is a probe connection to an address outside
	// ProberConfig.Allow; it was not attempted (or closed at once).
	ErrNotAllowed = errors.New("address not allowed for probes")
	// ErrTimeout is a probe that did not finish within Spec.Timeout.
	ErrTimeout = errors.New("probe timed out")
	// ErrStatus is an HTTP answer whose status is outside
	// Spec.ExpectLow-ExpectHigh.
	ErrStatus = errors.New("unexpected HTTP status")
	// ErrBody is an HTTP answer whose first 64 KiB lack Spec.Body.
	ErrBody = errors.New("expected text not in body")
)

// maxBody is how much of an HTTP body is searched for Spec.Body.
const maxBody = 64 << 10

// userAgent is the User-Agent of HTTP probes.
const userAgent = "meridian-probe"

// Dialer opens network connections (*net.Dialer satisfies it).
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// allowDialer returns a Dialer that connects through d (nil: a net.Dialer)
// only to addresses within allow (empty: any). A *net.Dialer is checked
// before it connects, on every address a name resolves to, through its
// ControlContext hook; any other Dialer is checked on the connection's
// remote address, which is closed at once when refused.
func allowDialer(d Dialer, allow []netip.Prefix) Dialer {
	if d == nil {
		d = &net.Dialer{KeepAlive: -1} // probe connections live for one probe
	}
	if len(allow) == 0 {
		return d
	}
	nd, ok := d.(*net.Dialer)
	if !ok {
		return checkedDialer{d: d, allow: allow}
	}
	guarded := *nd
	control, controlCtx := nd.Control, nd.ControlContext
	guarded.Control = nil
	guarded.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := allowed(allow, address); err != nil {
			return err
		}
		switch {
		case controlCtx != nil:
			return controlCtx(ctx, network, address, c)
		case control != nil:
			return control(network, address, c)
		}
		return nil
	}
	return &guarded
}

// checkedDialer checks the remote address of the connections d opens.
type checkedDialer struct {
	d     Dialer
	allow []netip.Prefix
}

// DialContext dials addr and closes the connection if its remote address
// is not allowed.
func (c checkedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if err := allowed(c.allow, conn.RemoteAddr().String()); err != nil {
		closeReset(conn)
		return nil, err
	}
	return conn, nil
}

// allowed returns nil when address ("ip:port") is within allow, and an
// error wrapping ErrNotAllowed otherwise.
func allowed(allow []netip.Prefix, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", ErrNotAllowed, address)
	}
	a := ap.Addr().Unmap().WithZone("")
	for _, p := range allow {
		if p.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrNotAllowed, a)
}

// closeReset closes conn with SO_LINGER 0 when it is TCP: the kernel sends
// a reset and keeps no TIME_WAIT socket.
func closeReset(conn net.Conn) {
	if l, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = conn.Close()
}

// check probes t once, bounded by its timeout (and ctx), and returns nil
// when it passes. A timeout wraps ErrTimeout.
func (p *Prober) check(ctx context.Context, t *target) error {
	ctx, cancel := context.WithTimeout(ctx, t.Spec.Timeout)
	defer cancel()
	err := p.attempt(ctx, t)
	if err != nil && isTimeout(ctx, err) {
		return fmt.Errorf("%w after %v: %w", ErrTimeout, t.Spec.Timeout, err)
	}
	return err
}

// attempt connects to t and, for HTTP checks, asks it; ctx bounds it all.
func (p *Prober) attempt(ctx context.Context, t *target) error {
	conn, err := p.dialer.DialContext(ctx, "tcp", t.dial)
	if err != nil {
		return err
	}
	defer closeReset(conn)
	if t.Spec.Check == TCP {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	return askHTTP(ctx, conn, t)
}

// isTimeout reports whether err ended a probe whose context is ctx because
// time ran out.
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// askHTTP sends t's GET over conn (after a TLS handshake for HTTPS) and
// checks the answer's status and body.
func askHTTP(ctx context.Context, conn net.Conn, t *target) error {
	rw := conn
	if t.Spec.Check == HTTPS {
		// Health checks do not verify certificates (neither does Route 53):
		// the question is whether the service answers, not who it is.
		tc := tls.Client(conn, &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // see above
			ServerName:         serverName(t),
			NextProtos:         []string{"http/1.1"},
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		rw = tc
	}
	req, err := newRequest(ctx, t)
	if err != nil {
		return err
	}
	if err := req.Write(rw); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(rw), req)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	defer resp.Body.Close()
	if s := resp.StatusCode; s < t.Spec.ExpectLow || s > t.Spec.ExpectHigh {
		return fmt.Errorf("%w %d, want %d-%d", ErrStatus, s, t.Spec.ExpectLow, t.Spec.ExpectHigh)
	}
	if t.Spec.Body == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	switch {
	case bytes.Contains(body, []byte(t.Spec.Body)):
		return nil
	case err != nil:
		return fmt.Errorf("read body: %w", err)
	}
	return fmt.Errorf("%w: %q", ErrBody, t.Spec.Body)
}

// newRequest returns the GET of an HTTP(S) probe of t.
func newRequest(ctx context.Context, t *target) (*http.Request, error) {
	scheme, path := "http://", t.Spec.Path
	if t.Spec.Check == HTTPS {
		scheme = "https://"
	}
	if path == "" {
		path = DefaultPath
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+t.dial+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: request: %w", ErrSpec, err)
	}
	switch {
	case t.Spec.Host != "":
		req.Host = t.Spec.Host
	case t.Host != "":
		req.Host = net.JoinHostPort(strings.TrimSuffix(req.URL.Hostname(), "."), req.URL.Port())
	}
	req.Close = true
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

// serverName returns the TLS server name of an HTTPS probe of t: the Host
// of its Spec without a port, else its hostname, else none.
func serverName(t *target) string {
	h := t.Spec.Host
	if h == "" {
		h = t.Host
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(h, ".")
}

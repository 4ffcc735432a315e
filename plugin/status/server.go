// Package status is Meridian's own HTTP listener (the Corefile's `status
// ADDRESS`): a live status page at / and the explain endpoint at
// /explain, which answers "why does this client get this answer?" with
// the report of package explain. It serves what a Backend (the plugin)
// gives it and decides nothing; every request is bounded in size, time
// and concurrency.
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/internal/logging"
	"github.com/meridian-dns/meridian/plugin/explain"
	"github.com/meridian-dns/meridian/plugin/model"
)

// Backend is what the listener serves: the plugin.
type Backend interface {
	// Explain answers q as ServeDNS would and reports why. An error
	// wrapping ErrQuestion is the asker's (400); others are the server's.
	Explain(ctx context.Context, q explain.Question) (*explain.Report, error)
	// Overview is what the status page shows now.
	Overview() Overview
}

// ErrQuestion is a question explain cannot ask: a name outside the zones,
// a bad type or client.
var ErrQuestion = errors.New("bad question")

// Config says where and how the listener serves.
type Config struct {
	// Addr is host:port. It must be a loopback address unless Remote.
	Addr   string
	Remote bool
	// MaxInFlight bounds the requests served at once (more get 503);
	// Timeout bounds each one. Zero means the defaults.
	MaxInFlight int
	Timeout     time.Duration
	Logger      logging.Logger
}

// Defaults of Config.
const (
	DefaultAddr        = "127.0.0.1:8053"
	DefaultMaxInFlight = 8
	DefaultTimeout     = 5 * time.Second
	maxHeaderBytes     = 8 << 10
)

// CheckAddr checks that addr is host:port with an IP host (or none), and
// a loopback one unless remote.
func CheckAddr(addr string, remote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "" {
		return fmt.Errorf("%q: no port", addr)
	}
	if host == "" {
		if !remote {
			return fmt.Errorf("%q listens on every address; add 'remote' to serve beyond this host", addr)
		}
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%q: the host must be an IP address", addr)
	}
	if !ip.IsLoopback() && !remote {
		return fmt.Errorf("%s is not a loopback address; add 'remote' to serve beyond this host", ip)
	}
	return nil
}

// Server is one listener. Corefile reloads hand it to the new plugin
// instance (Start with the same address) rather than binding again.
type Server struct {
	addr    string
	backend atomic.Pointer[Backend]
	sem     chan struct{}
	timeout time.Duration
	srv     *http.Server
	ln      net.Listener

	mu    sync.Mutex // guards index
	index struct {
		snap *model.Snapshot
		ix   *Index
	}
}

// servers are the listeners running, by address, so that a reloaded
// Corefile's instance takes over the listener of the one before.
var (
	serversMu sync.Mutex
	servers   = map[string]*Server{}
)

// Start serves b at cfg.Addr, or hands the listener already serving that
// address to b. Stop with the same b releases it.
func Start(cfg Config, b Backend) (*Server, error) {
	if err := CheckAddr(cfg.Addr, cfg.Remote); err != nil {
		return nil, err
	}
	serversMu.Lock()
	defer serversMu.Unlock()
	if s := servers[cfg.Addr]; s != nil {
		s.backend.Store(&b)
		return s, nil
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{addr: cfg.Addr, ln: ln, timeout: cfg.Timeout}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	n := cfg.MaxInFlight
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	s.sem = make(chan struct{}, n)
	s.backend.Store(&b)
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.timeout,
		ReadTimeout:       s.timeout,
		WriteTimeout:      2 * s.timeout,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	log := logging.OrNop(cfg.Logger)
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warningf("status %s: stopped serving: %v", cfg.Addr, err)
		}
	}()
	servers[cfg.Addr] = s
	return s, nil
}

// Addr is the address the listener is bound to (the port filled in).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop closes the listener if b is still the backend it serves; a newer
// instance that took it over keeps it.
func (s *Server) Stop(b Backend) error {
	serversMu.Lock()
	defer serversMu.Unlock()
	if cur := s.backend.Load(); cur == nil || *cur != b {
		return nil
	}
	delete(servers, s.addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Handler serves the routes, bounded.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/explain", s.explain)
	mux.HandleFunc("/{$}", s.page)
	h := http.TimeoutHandler(mux, s.timeout, "timed out\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		select {
		case s.sem <- struct{}{}:
			defer func() { <-s.sem }()
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy: too many requests in flight", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) b() Backend { return *s.backend.Load() }

// explain serves GET /explain?name=NAME&type=TYPE&client=IP[/PREFIX].
func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	q, err := ParseQuestion(r.URL.Query().Get("name"), r.URL.Query().Get("type"), r.URL.Query().Get("client"), r.RemoteAddr)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err)
		return
	}
	rep, err := s.b().Explain(r.Context(), q)
	switch {
	case errors.Is(err, ErrQuestion):
		jsonError(w, http.StatusBadRequest, err)
		return
	case err != nil:
		jsonError(w, http.StatusInternalServerError, err)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		jsonError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// ParseQuestion reads explain's parameters: a domain name, a type name
// ("" is A) and a client, an IP address or a network (as an ECS option;
// "" means the asker's own address, remote, as the query's source).
func ParseQuestion(name, qtype, client, remote string) (explain.Question, error) {
	var q explain.Question
	if name == "" {
		return q, fmt.Errorf("%w: name is missing; want /explain?name=NAME&type=A&client=IP[/PREFIX]", ErrQuestion)
	}
	name = dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 255 {
		return q, fmt.Errorf("%w: name %q is not a domain name", ErrQuestion, name)
	}
	q.Name = name
	q.Type = dns.TypeA
	if qtype != "" {
		t, ok := dns.StringToType[strings.ToUpper(qtype)]
		if !ok {
			return q, fmt.Errorf("%w: type %q is not a DNS type name (A, AAAA, TXT, SRV...)", ErrQuestion, qtype)
		}
		q.Type = t
	}
	if client == "" {
		ap, err := netip.ParseAddrPort(remote)
		if err != nil {
			return q, fmt.Errorf("%w: no client given and the asker's address %q is not one", ErrQuestion, remote)
		}
		a := ap.Addr().Unmap()
		q.Client = netip.PrefixFrom(a, a.BitLen())
		return q, nil
	}
	p, err := parseClient(client)
	if err != nil {
		return q, fmt.Errorf("%w: client %q: %v; want an IP address or network, such as 203.0.113.7 or 203.0.113.0/24", ErrQuestion, client, err)
	}
	q.Client, q.ECS = p, true
	return q, nil
}

// parseClient parses an address (a full-length prefix) or a network, and
// masks it as an ECS source prefix is.
func parseClient(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("a zoned address")
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

func jsonError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// page serves the status page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	ov := s.b().Overview()
	var ix *Index
	if ov.Snapshot != nil {
		ix = s.indexOf(ov.Snapshot)
	}
	var buf bytes.Buffer
	if err := render(&buf, ov, ix, parseParams(r.URL.Query())); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}

// indexOf returns the index of snap, made once per snapshot.
func (s *Server) indexOf(snap *model.Snapshot) *Index {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index.snap != snap {
		s.index.snap, s.index.ix = snap, NewIndex(snap)
	}
	return s.index.ix
}

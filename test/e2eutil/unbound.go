package e2eutil

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// UnboundBinary returns the path of Unbound (Debian's unbound package,
// which hack/install-tools.sh installs), or "" when it is not installed.
func UnboundBinary() string {
	if p, err := exec.LookPath("unbound"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/unbound"); err == nil {
		return "/usr/sbin/unbound"
	}
	return ""
}

// UnboundConfig says what StartUnbound resolves and through whom.
type UnboundConfig struct {
	// Zone is the stub zone sent to Authority, for example "example.com.".
	Zone string
	// Authority is the server of Zone, "127.0.0.1:port". It is also the
	// stub for the root, so a name outside every configured zone is asked
	// of it (and refused) rather than of a root server: Unbound talks to
	// no other address.
	Authority string
	// Local maps zone names to zone-file text that Unbound answers from
	// memory when it resolves (an auth-zone for upstream only): the
	// targets of CNAMEs that leave Zone. Empty means none.
	Local map[string]string
	// NoECS keeps Unbound from sending client subnets: the authority sees
	// only Unbound's own address, as behind a resolver without ECS, and
	// every answer goes to Unbound's regular cache.
	NoECS bool
	// TrustAnchor is a DS or DNSKEY record for Zone, on one line, that
	// Unbound trusts: it turns on the validator module (module-config
	// "subnetcache validator iterator"), with Extended DNS Errors on, and
	// Zone is an island of trust (the root has no anchor, so every name
	// outside Zone is insecure). Empty means no validation.
	TrustAnchor string
}

// Unbound is a running Unbound resolver on 127.0.0.1 with the subnetcache
// module on: it forwards a client's ECS to the authority and caches per
// scope, as a real resolver in front of Meridian does.
type Unbound struct {
	Addr string // 127.0.0.1:port
	Out  *SyncBuffer
}

// unboundConf is the server clause; %[1]d is the port, %[2]s the folder,
// %[3]s the authority's address in Unbound's notation (127.0.0.1@port).
//
// No client-subnet-always-forward: 127.0.0.1 is in send-client-subnet, so
// the client's ECS is forwarded anyway, and with the option on Unbound
// would skip its regular cache, which is where scope-0 answers (region
// and zone names) and their CNAMEs are kept.
const unboundConf = `server:
	interface: 127.0.0.1
	port: %[1]d
	outgoing-interface: 127.0.0.1
	do-ip4: yes
	do-ip6: no
	do-udp: yes
	do-tcp: yes
	access-control: 127.0.0.0/8 allow
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "%[2]s"
	pidfile: "%[2]s/unbound.pid"
	use-syslog: no
	logfile: ""
	verbosity: 1
	num-threads: 1
	so-reuseport: no
	module-config: "subnetcache iterator"
	send-client-subnet: 127.0.0.1
	max-client-subnet-ipv4: 24
	max-client-subnet-ipv6: 56
	do-not-query-localhost: no
	qname-minimisation: no
	prefetch: no
	prefetch-key: no
	target-fetch-policy: "0 0 0 0 0"
	harden-referral-path: no
	harden-algo-downgrade: no
	minimal-responses: yes
	edns-buffer-size: 1232
	trust-anchor-signaling: no
	root-key-sentinel: no
remote-control:
	control-enable: no
stub-zone:
	name: "."
	stub-addr: %[3]s
	stub-prime: no
`

// StartUnbound writes a configuration into a temporary folder, starts
// Unbound in the foreground on a free port of 127.0.0.1 and waits until it
// answers. It is stopped when the test ends; its log is shown if the test
// failed and Unbound logged an error or a warning. Each call is a new
// process with an empty cache.
func StartUnbound(t testing.TB, cfg UnboundConfig) *Unbound {
	t.Helper()
	bin := UnboundBinary()
	if bin == "" {
		t.Fatal("unbound is not installed (hack/install-tools.sh installs it)")
	}
	var lastErr error
	for range 3 { // another process may take the free port first
		u, err := startUnbound(t, bin, cfg)
		if err == nil {
			return u
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil
}

// startUnbound is one attempt of StartUnbound.
func startUnbound(t testing.TB, bin string, cfg UnboundConfig) (*Unbound, error) {
	dir := t.TempDir()
	conf, err := unboundConfig(dir, FreePort(t), cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf.text), 0o644); err != nil {
		return nil, err
	}
	u := &Unbound{Addr: conf.addr, Out: &SyncBuffer{}}
	cmd := exec.Command(bin, "-d", "-c", path)
	cmd.Stdout, cmd.Stderr = u.Out, u.Out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	if err := u.waitUp(exited, 20*time.Second); err != nil {
		stop()
		return nil, fmt.Errorf("%w\nconfig:\n%s\nlog:\n%s", err, conf.text, u.Out)
	}
	t.Cleanup(func() {
		stop()
		if log := u.Out.String(); t.Failed() && (strings.Contains(log, " error: ") || strings.Contains(log, " warning: ")) {
			t.Logf("unbound log:\n%s", log)
		}
	})
	return u, nil
}

// unboundFile is a configuration and the address it listens on.
type unboundFile struct{ text, addr string }

// unboundConfig fills unboundConf and appends the stub and auth zones.
func unboundConfig(dir string, port int, cfg UnboundConfig) (unboundFile, error) {
	host, aport, err := net.SplitHostPort(cfg.Authority)
	if err != nil || host != "127.0.0.1" {
		return unboundFile{}, fmt.Errorf("authority %q: want 127.0.0.1:port", cfg.Authority)
	}
	auth := host + "@" + aport
	var b strings.Builder
	conf := fmt.Sprintf(unboundConf, port, dir, auth)
	if cfg.NoECS {
		conf = strings.Replace(conf, "\tsend-client-subnet: 127.0.0.1\n", "", 1)
	}
	if cfg.TrustAnchor != "" {
		conf = strings.Replace(conf, `"subnetcache iterator"`, `"subnetcache validator iterator"`, 1)
		conf = strings.Replace(conf, "remote-control:\n", fmt.Sprintf("\ttrust-anchor: %q\n\tval-log-level: 2\n\tede: yes\nremote-control:\n", cfg.TrustAnchor), 1)
	}
	b.WriteString(conf)
	fmt.Fprintf(&b, "stub-zone:\n\tname: %q\n\tstub-addr: %s\n\tstub-prime: no\n", dns.Fqdn(cfg.Zone), auth)
	for zone, text := range cfg.Local {
		file := filepath.Join(dir, strings.TrimSuffix(zone, ".")+".zone")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			return unboundFile{}, err
		}
		fmt.Fprintf(&b, "auth-zone:\n\tname: %q\n\tzonefile: %q\n\tfor-upstream: yes\n\tfor-downstream: no\n\tfallback-enabled: no\n", dns.Fqdn(zone), file)
	}
	return unboundFile{text: b.String(), addr: fmt.Sprintf("127.0.0.1:%d", port)}, nil
}

// errUnboundExited is returned when Unbound stops before it answers.
var errUnboundExited = errors.New("unbound exited before it answered")

// waitUp polls Unbound with a question it answers itself (version.server
// CH TXT, no upstream involved) until it answers, it exits, or limit passes.
func (u *Unbound) waitUp(exited <-chan struct{}, limit time.Duration) error {
	m := new(dns.Msg)
	m.SetQuestion("version.server.", dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errUnboundExited
		default:
		}
		if r, _, err := c.Exchange(m, u.Addr); err == nil && r.Rcode == dns.RcodeSuccess {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("unbound not answering on %s after %v", u.Addr, limit)
}

// Exchange asks Unbound name/qtype over UDP (TCP if the reply is
// truncated) with recursion desired and, when subnet is not "", a client
// subnet option.
func (u *Unbound) Exchange(name string, qtype uint16, subnet string) (*dns.Msg, error) {
	return ExchangeECS(u.Addr, name, qtype, subnet)
}

// ExchangeDO is Exchange with the DNSSEC OK bit set: Unbound sets AD on
// an answer it validated as secure.
func (u *Unbound) ExchangeDO(name string, qtype uint16, subnet string) (*dns.Msg, error) {
	return ExchangeDO(u.Addr, name, qtype, subnet)
}

// ExchangeECS sends one query for name/qtype to addr over UDP, retried
// over TCP when the reply is truncated, with recursion desired, EDNS
// (1232 bytes) and, when subnet is not "", that client subnet.
func ExchangeECS(addr, name string, qtype uint16, subnet string) (*dns.Msg, error) {
	return exchangeEDNS(addr, name, qtype, subnet, false)
}

// ExchangeDO is ExchangeECS with the DNSSEC OK bit set: a validating
// resolver then sets AD on a secure answer, and an authority with DNSSEC
// adds its signatures.
func ExchangeDO(addr, name string, qtype uint16, subnet string) (*dns.Msg, error) {
	return exchangeEDNS(addr, name, qtype, subnet, true)
}

// exchangeEDNS is ExchangeECS with the DO bit as do says.
func exchangeEDNS(addr, name string, qtype uint16, subnet string, do bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, do)
	if err := addSubnet(m, subnet); err != nil {
		return nil, err
	}
	c := &dns.Client{Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(m, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s at %s: %w", name, dns.TypeToString[qtype], addr, err)
	}
	return r, nil
}

package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Roles is a set of the Meridian roles that read a setting.
type Roles uint8

// The roles, as a set.
const (
	// Authoritative is the authoritative role: it answers with the policy.
	Authoritative Roles = 1 << iota
	// Resolver is the resolver role: it judges its local shard by its
	// ready endpoints.
	Resolver
)

// Setting is one per-service setting: a Service annotation, and the
// Corefile line that sets its default for every service. Both read the
// value with Set, so a value one accepts the other accepts.
type Setting struct {
	// Annotation is the annotation's key after Prefix: "min-ready-fraction".
	Annotation string
	// Corefile is the name of the Corefile line: "min_ready_fraction".
	Corefile string
	// Form is the value's form in the Corefile syntax: "FRACTION|PERCENT%".
	Form string
	// Want is the values accepted, with their bounds, as an error says
	// it: "a fraction from 0 to 1 (0.5) or a percentage (50%)".
	Want string
	// Roles are the roles that read the setting; in a Corefile block of
	// another role its line is an error.
	Roles Roles
	// Set parses v into p, or leaves p as it was and returns ErrValue (the
	// caller says Want).
	Set func(p *Policy, v string) error
	// Doc says what the setting does and its default, for the docs.
	Doc string

	// more, when not empty, makes the Corefile line take optional
	// arguments after the value, in place of reading all of them joined:
	// each sets the next setting of more, by annotation; with rest the last
	// one takes the arguments left.
	more []string
	rest bool
}

// ErrArgs is a Corefile line with too few or too many arguments.
var ErrArgs = errors.New("wrong arguments")

// settings are the per-service settings, in the order Parse applies them.
var settings = [...]Setting{
	{
		Annotation: "policy", Corefile: "policy", Form: "closest|failover|weighted|roundrobin", Roles: Authoritative, Set: setKind,
		Want: "closest, failover, weighted or roundrobin",
		Doc:  "how an answer chooses among the usable shards (default closest)",
	},
	{
		Annotation: "shards", Corefile: "shards", Form: "N", Roles: Authoritative, Set: setShards,
		Want: fmt.Sprintf("an integer from 1 to %d", maxShards),
		Doc:  "how many shards a global answer names (default 1)",
	},
	{
		Annotation: "failover", Corefile: "failover", Form: "NAME[, NAME...]", Roles: Authoritative, Set: setFailover,
		Want: fmt.Sprintf("a list \"a, b, c\" of 1 to %d distinct cluster or region names", maxFailover),
		Doc:  "the failover policy's order: cluster or region names, the first usable entry wins",
	},
	{
		Annotation: "weights", Corefile: "weights", Form: "CLUSTER=W[, CLUSTER=W...]", Roles: Authoritative, Set: setWeights,
		Want: fmt.Sprintf("a list \"cluster=W, cluster=W\" of 1 to %d distinct cluster names, each W from 0 to %d", maxWeights, maxWeight),
		Doc:  "the weighted policy's weights; a cluster not listed weighs 0",
	},
	{
		Annotation: "min-ready", Corefile: "min_ready", Form: "N", Roles: Authoritative | Resolver, Set: setMinReady,
		Want: fmt.Sprintf("an integer from 1 to %d", maxMinReady),
		Doc:  "the least ready endpoints that make a shard usable (default 1)",
	},
	{
		Annotation: "min-ready-fraction", Corefile: "min_ready_fraction", Form: "FRACTION|PERCENT%", Roles: Authoritative | Resolver, Set: setMinReadyFraction,
		Want: "a fraction from 0 to 1 (0.5) or a percentage (50%)",
		Doc:  "the least share of a shard's endpoints that must be ready (default 0: off)",
	},
	{
		Annotation: "backends", Corefile: "backends", Form: "all|any", Roles: Authoritative | Resolver, Set: setBackends,
		Want: "all or any",
		Doc: "for an Ingress or route host, whether every backend Service of the host in a cluster must meet " +
			"min_ready and min_ready_fraction there, or any one of them (default all); Services ignore it",
	},
	{
		Annotation: "spill", Corefile: "spill", Form: "PERCENT", Roles: Authoritative, Set: setSpill,
		Want: "a percentage from 0 to 100 (10 or 10%)",
		Doc: "the share of answers that go to the next-closest usable shard while the closest is degraded, " +
			"i.e. usable with some endpoints not ready (default 0)",
	},
	{
		Annotation: "rise", Corefile: "rise", Form: "N", Roles: Authoritative | Resolver, Set: setRise,
		Want: fmt.Sprintf("an integer from 1 to %d", maxRiseFall),
		Doc:  "how many passing results in a row bring a shard up, for probes and the passive signal alike (default 2)",
	},
	{
		Annotation: "fall", Corefile: "fall", Form: "N", Roles: Authoritative | Resolver, Set: setFall,
		Want: fmt.Sprintf("an integer from 1 to %d", maxRiseFall),
		Doc:  "how many failing results in a row take a shard down, for probes and the passive signal alike (default 3)",
	},
	{
		Annotation: "probe", Corefile: "probe", Form: "off|tcp|http|https", Roles: Authoritative, Set: setProbe,
		Want: "off, tcp, http or https",
		Doc: "the active probe of the service's load balancers (default off): tcp connects, http and https GET " +
			"the path (HTTPS certificates are not verified); the Corefile line may also give the port and the path",
		more: []string{"probe-port", "probe-path"},
	},
	{
		Annotation: "probe-port", Corefile: "probe_port", Form: "PORT|PORT_NAME", Roles: Authoritative, Set: setProbePort,
		Want: "a port number from 1 to 65535 or a Service port name",
		Doc:  "the port probed (default: the shard's first TCP port; for an Ingress or route host, 80 for http and 443 for https and tcp)",
	},
	{
		Annotation: "probe-path", Corefile: "probe_path", Form: "PATH", Roles: Authoritative, Set: setProbePath,
		Want: fmt.Sprintf("a path that starts with / of at most %d printable characters, no spaces", maxPathLen),
		Doc:  "the HTTP request path (default /)",
	},
	{
		Annotation: "probe-host", Corefile: "probe_host", Form: "HOSTNAME", Roles: Authoritative, Set: setProbeHost,
		Want: "a host name such as api.example.com",
		Doc:  "the HTTP Host header and TLS server name (default: the address probed; for an Ingress or route host, the host itself)",
	},
	{
		Annotation: "probe-interval", Corefile: "probe_interval", Form: "DURATION", Roles: Authoritative, Set: setProbeInterval,
		Want: "a duration from 1s to 1h, such as 10s",
		Doc:  "the time between two probes of one address (default 10s)",
	},
	{
		Annotation: "probe-timeout", Corefile: "probe_timeout", Form: "DURATION", Roles: Authoritative, Set: setProbeTimeout,
		Want: "a duration above 0, at most 1h and at most the interval, such as 2s",
		Doc:  "the most one probe may take (default 2s)",
	},
	{
		Annotation: "probe-expect", Corefile: "probe_expect", Form: "STATUS[-STATUS]", Roles: Authoritative, Set: setProbeExpect,
		Want: "an HTTP status range from 100 to 599, such as 200-399, or one status such as 204",
		Doc: "the HTTP statuses that pass (default 200-399); the Corefile line also sets the body text, " +
			"to none when no text follows",
		more: []string{"probe-body"}, rest: true,
	},
	{
		Annotation: "probe-body", Corefile: "probe_body", Form: "BODY_SUBSTRING", Roles: Authoritative, Set: setProbeBody,
		Want: fmt.Sprintf("text of at most %d bytes", maxBodyLen),
		Doc:  "text the first 64 KiB of the HTTP body must hold (default: none)",
	},
}

// keys are the settings' annotation keys, Prefix included, by index in
// settings.
var keys = func() (k [len(settings)]string) {
	for i := range settings {
		k[i] = Prefix + settings[i].Annotation
	}
	return k
}()

// Settings returns a copy of the per-service settings, in the order Parse
// applies them.
func Settings() []Setting {
	s := settings
	return s[:]
}

// ByAnnotation returns the setting of an annotation key after Prefix
// ("min-ready-fraction").
func ByAnnotation(key string) (Setting, bool) {
	for i := range settings {
		if settings[i].Annotation == key {
			return settings[i], true
		}
	}
	return Setting{}, false
}

// ByCorefile returns the setting of a Corefile line ("min_ready_fraction").
func ByCorefile(name string) (Setting, bool) {
	for i := range settings {
		if settings[i].Corefile == name {
			return settings[i], true
		}
	}
	return Setting{}, false
}

// CorefileForm returns the form of the setting's Corefile line:
// "min_ready_fraction FRACTION|PERCENT%".
func (s *Setting) CorefileForm() string {
	f := s.Corefile + " " + s.Form
	for _, key := range s.more {
		m, _ := ByAnnotation(key)
		f += " [" + m.Form + "]"
	}
	return f
}

// SetCorefile reads the arguments of the setting's Corefile line into p,
// the default policy, or leaves p as it was and returns an error that says
// what was wrong. The value is the arguments joined by one space, the
// annotation's value written on the line ("failover a, b" is the
// annotation "a, b"); a value with a leading, trailing or double space is
// written in quotes. probe and probe_expect take more arguments than the
// annotation's value (see CorefileForm); with one argument they read it as
// the annotation does.
func (s *Setting) SetCorefile(p *Policy, args []string) error {
	if len(args) == 0 || len(s.more) > 0 && !s.rest && len(args) > 1+len(s.more) {
		return fmt.Errorf("%w %q", ErrArgs, args)
	}
	q := *p
	if err := s.setArgs(&q, args); err != nil {
		return err
	}
	*p = q
	return nil
}

// setArgs reads a Corefile line's arguments. Without more their join is
// the value; with more the first is, and each next one sets the next
// setting of more, the last of which, with rest, takes the arguments left,
// joined ("" when none is left).
func (s *Setting) setArgs(p *Policy, a []string) error {
	if len(s.more) == 0 {
		return s.set(p, strings.Join(a, " "))
	}
	if err := s.set(p, a[0]); err != nil {
		return err
	}
	for i, key := range s.more {
		left := a[min(1+i, len(a)):]
		var v string
		switch {
		case s.rest && i == len(s.more)-1:
			v = strings.Join(left, " ")
		case len(left) > 0:
			v = left[0]
		default:
			return nil
		}
		m, _ := ByAnnotation(key)
		if err := m.set(p, v); err != nil {
			return err
		}
	}
	return nil
}

// set is Set, with an error that quotes v and says Want.
func (s *Setting) set(p *Policy, v string) error {
	if err := s.Set(p, v); err != nil {
		return fmt.Errorf("%q is not %s", v, s.Want)
	}
	return nil
}

// valueError is the Problem error of a value Set refused.
func (s *Setting) valueError() error {
	return fmt.Errorf("%w: want %s", ErrValue, s.Want)
}

package policy

import (
	"fmt"
	"strings"
)

// setting is one annotation: set parses v into p, or returns an error
// wrapping ErrValue and leaves p as it was.
type setting struct {
	key string
	set func(p *Policy, v string) error
}

// settings are the annotations Parse reads, in the order it applies them.
var settings = [...]setting{
	{AnnPolicy, setKind},
	{AnnShards, setShards},
	{AnnFailover, setFailover},
	{AnnWeights, setWeights},
	{AnnMinReady, setMinReady},
	{AnnMinReadyFraction, setMinReadyFraction},
	{AnnSpill, setSpill},
	{AnnRise, setRise},
	{AnnFall, setFall},
	{AnnProbe, setProbe},
	{AnnProbePort, setProbePort},
	{AnnProbePath, setProbePath},
	{AnnProbeHost, setProbeHost},
	{AnnProbeInterval, setProbeInterval},
	{AnnProbeTimeout, setProbeTimeout},
	{AnnProbeExpect, setProbeExpect},
	{AnnProbeBody, setProbeBody},
}

// applied is a set of settings, by index in settings.
type applied uint32

func (a applied) has(key string) bool {
	i := settingIndex(key)
	return i >= 0 && a&(1<<i) != 0
}

// probeSettings is the set of the settings that change Policy.Probe.
func probeSettings() applied {
	var a applied
	for i := range settings {
		if k := settings[i].key; k == AnnRise || k == AnnFall || strings.HasPrefix(k, AnnProbe) {
			a |= 1 << i
		}
	}
	return a
}

func settingIndex(key string) int {
	for i := range settings {
		if settings[i].key == key {
			return i
		}
	}
	return -1
}

// Parse reads the policy of a service from its (merged) annotations over
// def, the Corefile's defaults. It reads every key under exactly Prefix
// ("federation.meridian.dev/x" is not under it) and ignores the others.
//
//	annotation          value                                 sets
//	policy              closest|failover|weighted|roundrobin  Kind
//	shards              1-64                                  Shards
//	failover            "a, b": 1-32 cluster or region names  Failover
//	weights             "a=3, b=1": cluster=0-1000000         Weights
//	min-ready           1-1048576                             MinReady
//	min-ready-fraction  0.5 or 50% (0-1)                      MinReadyFraction
//	spill               10 or 10% (0-100 percent)             Spill (0-1)
//	rise, fall          1-100                                 Probe.Rise, Probe.Fall
//	probe               off|tcp|http|https                    Probe.Check
//	probe-port          1-65535 or a Service port name        Probe.Port or ProbePortName
//	probe-path          /path, printable, at most 1024 bytes  Probe.Path
//	probe-host          a host name                           Probe.Host
//	probe-interval      a Go duration, 1s-1h                  Probe.Interval
//	probe-timeout       a Go duration, above 0, at most 1h    Probe.Timeout
//	probe-expect        200-399 or 204                        Probe.ExpectLow, ExpectHigh
//	probe-body          at most 256 bytes                     Probe.Body
//
// Names and keywords are case-insensitive and stored in lower case.
// A key under Prefix that is not listed is a Problem wrapping ErrUnknown;
// a value that does not parse is a Problem wrapping ErrValue, and that
// setting keeps def's value. Then the settings are checked together:
//
//   - policy failover with an empty failover list, or weighted with no
//     weight above 0, is a Problem and the service is answered closest;
//   - a probe whose timing fails health.Spec.Validate (a timeout above the
//     interval, each valid alone) is a Problem and keeps def's interval and
//     timeout.
//
// Problems are sorted by annotation key. Parse(nil, def) returns def and
// allocates nothing.
func Parse(ann map[string]string, def Policy) (Policy, []Problem) {
	if len(ann) == 0 {
		return def, nil
	}
	p := def
	var probs []Problem
	var ok applied
	for i, s := range settings {
		v, found := ann[s.key]
		if !found {
			continue
		}
		if err := s.set(&p, v); err != nil {
			probs = append(probs, Problem{Annotation: s.key, Value: v, Err: err})
			continue
		}
		ok |= 1 << i
	}
	for k, v := range ann {
		if Owns(k) && settingIndex(k) < 0 {
			probs = append(probs, Problem{Annotation: k, Value: v, Err: fmt.Errorf("%w %q", ErrUnknown, k)})
		}
	}
	if pr, bad := checkKind(&p, ann); bad {
		probs = append(probs, pr)
	}
	if pr, bad := checkProbe(&p, def, ann, ok); bad {
		probs = append(probs, pr)
	}
	sortProblems(probs)
	return p, probs
}

// checkKind makes a failover policy with no list, or a weighted one with
// no weight above 0, closest. The problem is reported on the policy
// annotation, or on the list's when the policy came from the defaults.
func checkKind(p *Policy, ann map[string]string) (Problem, bool) {
	var list, why string
	switch {
	case p.Kind == Failover && len(p.Failover) == 0:
		list, why = AnnFailover, "policy failover needs a usable "+AnnFailover+" list"
	case p.Kind == Weighted && !anyWeight(p.Weights):
		list, why = AnnWeights, "policy weighted needs a usable "+AnnWeights+" list with a weight above 0"
	default:
		return Problem{}, false
	}
	p.Kind = Closest
	key := AnnPolicy
	if _, set := ann[AnnPolicy]; !set {
		key = list
	}
	return Problem{Annotation: key, Value: ann[key], Err: fmt.Errorf("%w: %s; answering closest", ErrValue, why)}, true
}

func anyWeight(ws []Weight) bool {
	for _, w := range ws {
		if w.Weight > 0 {
			return true
		}
	}
	return false
}

// checkProbe validates the probe when an annotation changed it. Every
// value was checked alone, so what can fail is a combination: the timing
// (a timeout above the interval). The probe then keeps def's interval and
// timeout, or all of def's probe if that is not enough. The problem is
// reported on the timing annotation that was applied, the timeout's first.
func checkProbe(p *Policy, def Policy, ann map[string]string, ok applied) (Problem, bool) {
	if ok&probeSettings() == 0 {
		return Problem{}, false // def's probe is the caller's to check
	}
	err := p.Probe.Validate()
	if err == nil {
		return Problem{}, false
	}
	key := AnnProbe
	switch {
	case ok.has(AnnProbeTimeout):
		key = AnnProbeTimeout
	case ok.has(AnnProbeInterval):
		key = AnnProbeInterval
	}
	p.Probe.Interval, p.Probe.Timeout = def.Probe.Interval, def.Probe.Timeout
	if p.Probe.Validate() != nil {
		p.Probe, p.ProbePortName = def.Probe, def.ProbePortName
	}
	return Problem{Annotation: key, Value: ann[key], Err: fmt.Errorf("%w: %w; using the default interval %v and timeout %v",
		ErrValue, err, def.Probe.Interval, def.Probe.Timeout)}, true
}

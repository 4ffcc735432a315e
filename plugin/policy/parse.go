package policy

import (
	"fmt"
	"strings"
)

// applied is a set of settings, by index in settings.
type applied uint32

func (a applied) has(key string) bool {
	i := settingIndex(key)
	return i >= 0 && a&(1<<i) != 0
}

// probeSettings is the set of the settings that change Policy.Probe.
func probeSettings() applied {
	var a applied
	for i, k := range keys {
		if k == AnnRise || k == AnnFall || strings.HasPrefix(k, AnnProbe) {
			a |= 1 << i
		}
	}
	return a
}

// settingIndex returns the index in settings of an annotation key, Prefix
// included, or -1.
func settingIndex(key string) int {
	for i, k := range keys {
		if k == key {
			return i
		}
	}
	return -1
}

// Parse reads the policy of a service from its (merged) annotations over
// def, the Corefile's defaults. It reads every key under exactly Prefix
// ("federation.meridian.dev/x" is not under it) and ignores the others.
// Settings lists the keys, their values and the order they are applied in.
//
// Names and keywords are case-insensitive and stored in lower case.
// A key under Prefix that is not listed is a Problem wrapping ErrUnknown;
// a value that does not parse is a Problem wrapping ErrValue that says the
// setting's Want, and that setting keeps def's value. Then the settings
// are checked together:
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
	for i := range settings {
		s := &settings[i]
		v, found := ann[keys[i]]
		if !found {
			continue
		}
		if s.Set(&p, v) != nil {
			probs = append(probs, Problem{Annotation: keys[i], Value: v, Err: s.valueError()})
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
	name, more := lacking(p)
	if name == "" {
		return Problem{}, false
	}
	list := Prefix + name
	why := "policy " + p.Kind.String() + " needs a usable " + list + " list" + more
	p.Kind = Closest
	key := AnnPolicy
	if _, set := ann[AnnPolicy]; !set {
		key = list
	}
	return Problem{Annotation: key, Value: ann[key], Err: fmt.Errorf("%w: %s; answering closest", ErrValue, why)}, true
}

// CheckDefaults reports a Corefile default policy whose kind lacks its
// list: policy failover with no failover line, or weighted with no weight
// above 0. Services without annotations would keep that kind (and be
// answered as closest), and Parse would report it as a Problem of every
// annotated one.
func CheckDefaults(def Policy) error {
	name, more := lacking(&def)
	if name == "" {
		return nil
	}
	s, _ := ByAnnotation(name)
	return fmt.Errorf("policy %s needs a %q line%s", def.Kind, s.CorefileForm(), more)
}

// lacking returns, when p's kind lacks its list (failover with no
// failover list, weighted with no weight above 0), that list's setting by
// annotation and what the list must hold besides; "" when p lacks nothing.
func lacking(p *Policy) (annotation, more string) {
	switch {
	case p.Kind == Failover && len(p.Failover) == 0:
		return "failover", ""
	case p.Kind == Weighted && !anyWeight(p.Weights):
		return "weights", " with a weight above 0"
	}
	return "", ""
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

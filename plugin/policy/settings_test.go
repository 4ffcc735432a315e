package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSettingsComplete checks that no setting is half added: each has its
// two names, its forms, its roles, its setter and its doc, and the names
// follow one rule.
func TestSettingsComplete(t *testing.T) {
	anns := []string{AnnPolicy, AnnShards, AnnFailover, AnnWeights, AnnMinReady, AnnMinReadyFraction, AnnBackends, AnnSpill, AnnRise,
		AnnFall, AnnProbe, AnnProbePort, AnnProbePath, AnnProbeHost, AnnProbeInterval, AnnProbeTimeout, AnnProbeExpect, AnnProbeBody}
	all := Settings()
	if len(all) != len(anns) {
		t.Errorf("%d settings, %d annotation constants", len(all), len(anns))
	}
	seen := map[string]bool{}
	for i, s := range all {
		if s.Annotation == "" || s.Corefile == "" || s.Form == "" || s.Want == "" || s.Doc == "" || s.Set == nil {
			t.Errorf("setting %d is incomplete: %+v", i, s)
		}
		if s.Roles == 0 || s.Roles&^(Authoritative|Resolver) != 0 {
			t.Errorf("%s: roles %b", s.Annotation, s.Roles)
		}
		if s.Corefile != strings.ReplaceAll(s.Annotation, "-", "_") {
			t.Errorf("Corefile name %q of annotation %q: want the annotation with _ for -", s.Corefile, s.Annotation)
		}
		if i < len(anns) && Prefix+s.Annotation != anns[i] {
			t.Errorf("setting %d is %q, want the constant %q (the order Parse applies them in)", i, Prefix+s.Annotation, anns[i])
		}
		if seen[s.Annotation] {
			t.Errorf("%q given twice", s.Annotation)
		}
		seen[s.Annotation] = true
		if a, ok := ByAnnotation(s.Annotation); !ok || a.Corefile != s.Corefile {
			t.Errorf("ByAnnotation(%q) = %q, %v", s.Annotation, a.Corefile, ok)
		}
		if c, ok := ByCorefile(s.Corefile); !ok || c.Annotation != s.Annotation {
			t.Errorf("ByCorefile(%q) = %q, %v", s.Corefile, c.Annotation, ok)
		}
		for _, m := range s.more {
			if _, ok := ByAnnotation(m); !ok {
				t.Errorf("%s: more names %q, not a setting", s.Annotation, m)
			}
		}
	}
	if _, ok := ByAnnotation("nope"); ok {
		t.Error("ByAnnotation found an unknown key")
	}
	if _, ok := ByCorefile("min-ready"); ok {
		t.Error("ByCorefile found an annotation key")
	}
}

// permissive is a default policy over which every value of one setting is
// judged alone: the lists the kinds need are there, and the probe timing
// leaves room for any interval and timeout the settings accept.
func permissive() Policy {
	p := Default()
	p.Failover, p.Weights = []string{"z"}, []Weight{{"z", 1}}
	p.Probe.Interval, p.Probe.Timeout = time.Hour, time.Second
	return p
}

// viaAnnotation applies v as s's annotation over permissive().
func viaAnnotation(s Setting, v string) (Policy, bool) {
	p, probs := Parse(map[string]string{Prefix + s.Annotation: v}, permissive())
	return p, len(probs) == 0
}

// viaCorefile applies the arguments of s's Corefile line over permissive().
func viaCorefile(s Setting, args []string) (Policy, bool) {
	p := permissive()
	return p, s.SetCorefile(&p, args) == nil
}

// bound is a value a setting must accept or refuse, whichever the path.
type bound struct {
	key, value string
	ok         bool
}

var (
	long256 = strings.Repeat("x", 256)
	path    = "/" + strings.Repeat("p", 1023)
)

// bounds are each setting's edges: every setting has at least one value
// accepted and one refused.
var bounds = []bound{
	{"policy", "closest", true}, {"policy", " RoundRobin ", true}, {"policy", "nearest", false},
	{"shards", "1", true}, {"shards", "64", true}, {"shards", "0", false}, {"shards", "65", false},
	{"failover", "a, b", true}, {"failover", "a,B", true}, {"failover", "a b", false}, {"failover", "a, a", false},
	{"failover", "", false}, {"failover", names(32), true}, {"failover", names(33), false},
	{"weights", "a=3, b=0", true}, {"weights", "a=1000000", true}, {"weights", "a=1000001", false},
	{"weights", "a", false}, {"weights", "a=1 b=2", false},
	{"min-ready", "1", true}, {"min-ready", "1048576", true}, {"min-ready", "0", false}, {"min-ready", "1048577", false},
	{"min-ready-fraction", "0", true}, {"min-ready-fraction", "1", true}, {"min-ready-fraction", "0.5", true},
	{"min-ready-fraction", "100%", true}, {"min-ready-fraction", "50 %", true}, {"min-ready-fraction", "1.01", false},
	{"min-ready-fraction", "101%", false}, {"min-ready-fraction", "NaN", false}, {"min-ready-fraction", "-0.1", false},
	{"backends", "all", true}, {"backends", "ANY", true}, {"backends", "some", false}, {"backends", "", false},
	{"spill", "0", true}, {"spill", "100", true}, {"spill", "10%", true}, {"spill", "101", false},
	{"spill", "-1%", false}, {"spill", "NaN", false},
	{"rise", "1", true}, {"rise", "100", true}, {"rise", "0", false}, {"rise", "101", false},
	{"fall", "1", true}, {"fall", "100", true}, {"fall", "0", false}, {"fall", "101", false},
	{"probe", "off", true}, {"probe", "HTTPS", true}, {"probe", "icmp", false}, {"probe", "http 80", false},
	{"probe-port", "1", true}, {"probe-port", "65535", true}, {"probe-port", "Admin", true}, {"probe-port", "0", false},
	{"probe-port", "65536", false}, {"probe-port", "my_port", false}, {"probe-port", "-a", false},
	{"probe-path", "/healthz?full=1", true}, {"probe-path", path, true}, {"probe-path", path + "p", false},
	{"probe-path", "healthz", false}, {"probe-path", "/a b", false},
	{"probe-host", "API.example.com.", true}, {"probe-host", "a..b", false}, {"probe-host", "a:80", false},
	{"probe-interval", "1s", true}, {"probe-interval", "1h", true}, {"probe-interval", "999ms", false},
	{"probe-interval", "1h0m1s", false}, {"probe-interval", "10", false},
	{"probe-timeout", "1ms", true}, {"probe-timeout", "1h", true}, {"probe-timeout", "0s", false},
	{"probe-timeout", "1h0m1s", false},
	{"probe-expect", "100-599", true}, {"probe-expect", "204", true}, {"probe-expect", "99", false},
	{"probe-expect", "200-600", false}, {"probe-expect", "300-200", false}, {"probe-expect", "200 ok", false},
	{"probe-body", "", true}, {"probe-body", "all good", true}, {"probe-body", long256, true},
	{"probe-body", long256 + "x", false},
}

// others are values tried on every setting, mostly refused.
var others = []string{"", " ", "0", "1", "-1", "1.5", "50%", "closest", "failover", "http", "off", "a", "a, b",
	"a=1", "/healthz", "api.example.com", "10s", "200-399", "all good", " ok ", "65535", "1e3"}

// TestSameValues checks that a value is accepted or refused alike as an
// annotation and on a Corefile line, written bare or in quotes, and that
// both make the same policy of it.
func TestSameValues(t *testing.T) {
	checked := map[string][2]bool{} // annotation: seen accepted, seen refused
	for _, b := range bounds {
		s, ok := ByAnnotation(b.key)
		if !ok {
			t.Fatalf("bound of unknown setting %q", b.key)
		}
		if _, got := viaAnnotation(s, b.value); got != b.ok {
			t.Errorf("annotation %s: %q accepted %v, want %v", b.key, b.value, got, b.ok)
		}
		c := checked[b.key]
		c[map[bool]int{true: 0, false: 1}[b.ok]] = true
		checked[b.key] = c
	}
	for _, s := range Settings() {
		if c := checked[s.Annotation]; !c[0] || !c[1] {
			t.Errorf("%s: bounds want a value accepted and one refused", s.Annotation)
		}
		values := append([]string(nil), others...)
		for _, b := range bounds {
			values = append(values, b.value)
		}
		for _, v := range values {
			sameValue(t, s, v)
		}
	}
}

// sameValue compares v as s's annotation with v on s's Corefile line, in
// quotes (one argument) and, when the line reads it back as v, bare.
func sameValue(t *testing.T, s Setting, v string) {
	t.Helper()
	want, ok := viaAnnotation(s, v)
	forms := [][]string{{v}}
	if f := strings.Fields(v); len(f) > 0 && strings.Join(f, " ") == v && (len(f) == 1 || len(s.more) == 0) {
		forms = append(forms, f)
	}
	for _, args := range forms {
		got, cok := viaCorefile(s, args)
		switch {
		case cok != ok:
			t.Errorf("%s %q: Corefile accepts %v, annotation %s accepts %v", s.Corefile, args, cok, s.Annotation, ok)
		case ok && !reflect.DeepEqual(got, want):
			t.Errorf("%s %q: Corefile makes\n%+v\nannotation makes\n%+v", s.Corefile, args, got, want)
		}
	}
}

// TestSetCorefile checks the Corefile lines that take more than the
// annotation's value, and what an error says.
func TestSetCorefile(t *testing.T) {
	tests := []struct {
		line    string
		args    []string
		want    func(p *Policy) // changes from Default(); nil: none
		wantErr string
	}{
		{line: "failover", args: []string{"a,", "B"}, want: func(p *Policy) { p.Failover = []string{"a", "b"} }},
		{line: "failover", args: []string{"a", "b"}, wantErr: `"a b" is not a list "a, b, c"`},
		{line: "weights", args: []string{"a=1,", "b=2"}, want: func(p *Policy) { p.Weights = []Weight{{"a", 1}, {"b", 2}} }},
		{line: "probe_body", args: []string{"all", "good"}, want: func(p *Policy) { p.Probe.Body = "all good" }},
		{line: "probe", args: []string{"tcp"}, want: func(p *Policy) { p.Probe.Check = 1 }},
		{line: "probe", args: []string{"http", "8443"}, want: func(p *Policy) { p.Probe.Check, p.Probe.Port = 2, 8443 }},
		{line: "probe", args: []string{"https", "Admin", "/healthz"},
			want: func(p *Policy) { p.Probe.Check, p.ProbePortName, p.Probe.Path = 3, "admin", "/healthz" }},
		{line: "probe", args: []string{"http", "80", "/", "x"}, wantErr: "wrong arguments"},
		{line: "probe", args: []string{"http", "80", "healthz"}, wantErr: `"healthz" is not a path that starts with /`},
		{line: "probe", args: []string{"http", "0"}, wantErr: `"0" is not a port number from 1 to 65535`},
		{line: "probe_expect", args: []string{"200-204", "all", "good"},
			want: func(p *Policy) { p.Probe.ExpectLow, p.Probe.ExpectHigh, p.Probe.Body = 200, 204, "all good" }},
		{line: "probe_expect", args: []string{"204"},
			want: func(p *Policy) { p.Probe.ExpectLow, p.Probe.ExpectHigh, p.Probe.Body = 204, 204, "" }},
		{line: "probe_expect", args: []string{"600"}, wantErr: `"600" is not an HTTP status range`},
		{line: "probe_expect", args: []string{"200", long256 + "x"}, wantErr: "is not text of at most 256 bytes"},
		{line: "spill", args: []string{"150"}, wantErr: `"150" is not a percentage from 0 to 100 (10 or 10%)`},
		{line: "shards", args: nil, wantErr: "wrong arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.line+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			s, ok := ByCorefile(tc.line)
			if !ok {
				t.Fatalf("no setting %q", tc.line)
			}
			def := Default()
			def.Probe.Body = "before" // probe_expect sets it, to "" with no text
			want := def
			if tc.want != nil {
				tc.want(&want)
			}
			got := def
			err := s.SetCorefile(&got, tc.args)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			case tc.wantErr != "":
				want = def // an error leaves the policy as it was
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("policy\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestCorefileForm(t *testing.T) {
	for line, want := range map[string]string{
		"probe":              "probe off|tcp|http|https [PORT|PORT_NAME] [PATH]",
		"probe_expect":       "probe_expect STATUS[-STATUS] [BODY_SUBSTRING]",
		"min_ready_fraction": "min_ready_fraction FRACTION|PERCENT%",
		"rise":               "rise N",
	} {
		if s, _ := ByCorefile(line); s.CorefileForm() != want {
			t.Errorf("CorefileForm of %s = %q, want %q", line, s.CorefileForm(), want)
		}
	}
}

func TestCheckDefaults(t *testing.T) {
	tests := []struct {
		name    string
		pol     func(p *Policy)
		wantErr string
	}{
		{name: "closest", pol: func(*Policy) {}},
		{name: "failover with a list", pol: func(p *Policy) { p.Kind, p.Failover = Failover, []string{"a"} }},
		{name: "failover without", pol: func(p *Policy) { p.Kind = Failover },
			wantErr: `policy failover needs a "failover NAME[, NAME...]" line`},
		{name: "weighted", pol: func(p *Policy) { p.Kind, p.Weights = Weighted, []Weight{{"a", 0}, {"b", 1}} }},
		{name: "weighted all zero", pol: func(p *Policy) { p.Kind, p.Weights = Weighted, []Weight{{"a", 0}} },
			wantErr: `policy weighted needs a "weights CLUSTER=W[, CLUSTER=W...]" line with a weight above 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Default()
			tc.pol(&p)
			err := CheckDefaults(p)
			if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("CheckDefaults: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestProblemSaysWant checks that a refused annotation's Problem says the
// setting's Want and wraps ErrValue.
func TestProblemSaysWant(t *testing.T) {
	for _, b := range bounds {
		if b.ok {
			continue
		}
		s, _ := ByAnnotation(b.key)
		_, probs := Parse(map[string]string{Prefix + b.key: b.value}, permissive())
		if len(probs) != 1 || !errors.Is(probs[0].Err, ErrValue) || probs[0].Err.Error() != "invalid value: want "+s.Want {
			t.Errorf("%s %q: problems %v", b.key, b.value, probs)
		}
	}
}

package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meridian-dns/meridian/health"
)

// problem is an expected Problem: its key and the error it wraps.
type problem struct {
	key string
	err error
}

func TestParse(t *testing.T) {
	long := "/" + strings.Repeat("a", 1024)
	tests := []struct {
		name  string
		ann   map[string]string
		def   *Policy         // nil: Default()
		want  func(p *Policy) // changes from the default; nil: none
		probs []problem
	}{
		{name: "nil"},
		{name: "other keys are ignored", ann: map[string]string{"federation.meridian.dev/name": "f",
			"example.com/policy": "failover", "meridian.dev": "x", "xmeridian.dev/policy": "failover"}},
		{name: "unknown keys", ann: map[string]string{Prefix + "polcy": "closest", Prefix: "x"},
			probs: []problem{{Prefix, ErrUnknown}, {Prefix + "polcy", ErrUnknown}}},

		{name: "policy is case-insensitive", ann: map[string]string{AnnPolicy: " RoundRobin "},
			want: func(p *Policy) { p.Kind = RoundRobin }},
		{name: "policy closest", ann: map[string]string{AnnPolicy: "closest"}, def: &Policy{Kind: RoundRobin},
			want: func(p *Policy) { p.Kind = Closest }},
		{name: "bad policy", ann: map[string]string{AnnPolicy: "nearest"}, probs: []problem{{AnnPolicy, ErrValue}}},

		{name: "shards", ann: map[string]string{AnnShards: "64"}, want: func(p *Policy) { p.Shards = 64 }},
		{name: "shards 0", ann: map[string]string{AnnShards: "0"}, probs: []problem{{AnnShards, ErrValue}}},
		{name: "shards 65", ann: map[string]string{AnnShards: "65"}, probs: []problem{{AnnShards, ErrValue}}},
		{name: "shards not a number", ann: map[string]string{AnnShards: "two"}, probs: []problem{{AnnShards, ErrValue}}},

		{name: "failover", ann: map[string]string{AnnPolicy: "failover", AnnFailover: " EU-1,us-central1 , b "},
			want: func(p *Policy) { p.Kind, p.Failover = Failover, []string{"eu-1", "us-central1", "b"} }},
		{name: "failover list alone", ann: map[string]string{AnnFailover: "a"},
			want: func(p *Policy) { p.Failover = []string{"a"} }},
		{name: "failover duplicate", ann: map[string]string{AnnFailover: "a, b, A"}, probs: []problem{{AnnFailover, ErrValue}}},
		{name: "failover empty entry", ann: map[string]string{AnnFailover: "a,,b"}, probs: []problem{{AnnFailover, ErrValue}}},
		{name: "failover empty", ann: map[string]string{AnnFailover: ""}, probs: []problem{{AnnFailover, ErrValue}}},
		{name: "failover not a label", ann: map[string]string{AnnFailover: "a.b"}, probs: []problem{{AnnFailover, ErrValue}}},
		{name: "failover 32 entries", ann: map[string]string{AnnFailover: names(32)},
			want: func(p *Policy) { p.Failover = strings.Split(names(32), ",") }},
		{name: "failover 33 entries", ann: map[string]string{AnnFailover: names(33)}, probs: []problem{{AnnFailover, ErrValue}}},
		{name: "failover without a list falls back to closest", ann: map[string]string{AnnPolicy: "failover"},
			probs: []problem{{AnnPolicy, ErrValue}}},
		{name: "failover with a bad list falls back to closest", ann: map[string]string{AnnPolicy: "failover", AnnFailover: "-a"},
			probs: []problem{{AnnFailover, ErrValue}, {AnnPolicy, ErrValue}}},
		{name: "failover list from the defaults", ann: map[string]string{AnnPolicy: "failover"},
			def:  &Policy{Failover: []string{"a"}},
			want: func(p *Policy) { p.Kind = Failover }},

		{name: "weights", ann: map[string]string{AnnPolicy: "weighted", AnnWeights: "A=3, b = 0,c=1000000"},
			want: func(p *Policy) {
				p.Kind, p.Weights = Weighted, []Weight{{"a", 3}, {"b", 0}, {"c", 1000000}}
			}},
		{name: "weights too big", ann: map[string]string{AnnWeights: "a=1000001"}, probs: []problem{{AnnWeights, ErrValue}}},
		{name: "weights negative", ann: map[string]string{AnnWeights: "a=-1"}, probs: []problem{{AnnWeights, ErrValue}}},
		{name: "weights without =", ann: map[string]string{AnnWeights: "a=1, b"}, probs: []problem{{AnnWeights, ErrValue}}},
		{name: "weights duplicate", ann: map[string]string{AnnWeights: "a=1, a=2"}, probs: []problem{{AnnWeights, ErrValue}}},
		{name: "weights bad cluster", ann: map[string]string{AnnWeights: "a_b=1"}, probs: []problem{{AnnWeights, ErrValue}}},
		{name: "weighted all zero falls back to closest", ann: map[string]string{AnnPolicy: "weighted", AnnWeights: "a=0"},
			want:  func(p *Policy) { p.Weights = []Weight{{"a", 0}} },
			probs: []problem{{AnnPolicy, ErrValue}}},
		{name: "weighted without weights falls back to closest", ann: map[string]string{AnnPolicy: "Weighted"},
			probs: []problem{{AnnPolicy, ErrValue}}},
		{name: "zero weights over a weighted default", ann: map[string]string{AnnWeights: "a=0"},
			def:   &Policy{Kind: Weighted, Weights: []Weight{{"a", 1}}},
			want:  func(p *Policy) { p.Kind, p.Weights = Closest, []Weight{{"a", 0}} },
			probs: []problem{{AnnWeights, ErrValue}}},

		{name: "min-ready", ann: map[string]string{AnnMinReady: "1048576"}, want: func(p *Policy) { p.MinReady = 1 << 20 }},
		{name: "min-ready 0", ann: map[string]string{AnnMinReady: "0"}, probs: []problem{{AnnMinReady, ErrValue}}},
		{name: "min-ready too big", ann: map[string]string{AnnMinReady: "1048577"}, probs: []problem{{AnnMinReady, ErrValue}}},
		{name: "min-ready-fraction", ann: map[string]string{AnnMinReadyFraction: "0.25"},
			want: func(p *Policy) { p.MinReadyFraction = 0.25 }},
		{name: "min-ready-fraction percent", ann: map[string]string{AnnMinReadyFraction: "50%"},
			want: func(p *Policy) { p.MinReadyFraction = 0.5 }},
		{name: "min-ready-fraction above 1", ann: map[string]string{AnnMinReadyFraction: "1.5"},
			probs: []problem{{AnnMinReadyFraction, ErrValue}}},
		{name: "min-ready-fraction above 100%", ann: map[string]string{AnnMinReadyFraction: "101%"},
			probs: []problem{{AnnMinReadyFraction, ErrValue}}},
		{name: "min-ready-fraction NaN", ann: map[string]string{AnnMinReadyFraction: "NaN"},
			probs: []problem{{AnnMinReadyFraction, ErrValue}}},

		{name: "spill", ann: map[string]string{AnnSpill: "10"}, want: func(p *Policy) { p.Spill = 0.1 }},
		{name: "spill percent", ann: map[string]string{AnnSpill: "100%"}, want: func(p *Policy) { p.Spill = 1 }},
		{name: "spill 0", ann: map[string]string{AnnSpill: "0"}, def: &Policy{Spill: 0.5}, want: func(p *Policy) { p.Spill = 0 }},
		{name: "spill above 100", ann: map[string]string{AnnSpill: "101"}, probs: []problem{{AnnSpill, ErrValue}}},
		{name: "spill negative", ann: map[string]string{AnnSpill: "-1%"}, probs: []problem{{AnnSpill, ErrValue}}},

		{name: "rise and fall", ann: map[string]string{AnnRise: "1", AnnFall: "100"},
			want: func(p *Policy) { p.Probe.Rise, p.Probe.Fall = 1, 100 }},
		{name: "rise 0 and fall 101", ann: map[string]string{AnnRise: "0", AnnFall: "101"},
			probs: []problem{{AnnFall, ErrValue}, {AnnRise, ErrValue}}},

		{name: "probe", ann: map[string]string{AnnProbe: "HTTPS"}, want: func(p *Policy) { p.Probe.Check = health.HTTPS }},
		{name: "probe off", ann: map[string]string{AnnProbe: "off"}, def: &Policy{Probe: health.Spec{Check: health.TCP}},
			want: func(p *Policy) { p.Probe.Check = health.None }},
		{name: "bad probe", ann: map[string]string{AnnProbe: "icmp"}, probs: []problem{{AnnProbe, ErrValue}}},
		{name: "probe-port number", ann: map[string]string{AnnProbePort: "8080"}, def: &Policy{ProbePortName: "http"},
			want: func(p *Policy) { p.Probe.Port, p.ProbePortName = 8080, "" }},
		{name: "probe-port name", ann: map[string]string{AnnProbePort: "Health"}, def: &Policy{Probe: health.Spec{Port: 80}},
			want: func(p *Policy) { p.Probe.Port, p.ProbePortName = 0, "health" }},
		{name: "probe-port 0", ann: map[string]string{AnnProbePort: "0"}, probs: []problem{{AnnProbePort, ErrValue}}},
		{name: "probe-port 65536", ann: map[string]string{AnnProbePort: "65536"}, probs: []problem{{AnnProbePort, ErrValue}}},
		{name: "probe-port bad name", ann: map[string]string{AnnProbePort: "my_port"}, probs: []problem{{AnnProbePort, ErrValue}}},
		{name: "probe-path", ann: map[string]string{AnnProbePath: "/healthz?full=1"},
			want: func(p *Policy) { p.Probe.Path = "/healthz?full=1" }},
		{name: "probe-path relative", ann: map[string]string{AnnProbePath: "healthz"}, probs: []problem{{AnnProbePath, ErrValue}}},
		{name: "probe-path with a space", ann: map[string]string{AnnProbePath: "/a b"}, probs: []problem{{AnnProbePath, ErrValue}}},
		{name: "probe-path control", ann: map[string]string{AnnProbePath: "/a\x01"}, probs: []problem{{AnnProbePath, ErrValue}}},
		{name: "probe-path 1024", ann: map[string]string{AnnProbePath: long[:1024]},
			want: func(p *Policy) { p.Probe.Path = long[:1024] }},
		{name: "probe-path too long", ann: map[string]string{AnnProbePath: long}, probs: []problem{{AnnProbePath, ErrValue}}},
		{name: "probe-host", ann: map[string]string{AnnProbeHost: "API.example.com."},
			want: func(p *Policy) { p.Probe.Host = "api.example.com" }},
		{name: "bad probe-host", ann: map[string]string{AnnProbeHost: "a..b"}, probs: []problem{{AnnProbeHost, ErrValue}}},
		{name: "probe-host with a port", ann: map[string]string{AnnProbeHost: "a:80"}, probs: []problem{{AnnProbeHost, ErrValue}}},

		{name: "probe timing", ann: map[string]string{AnnProbeInterval: "1h", AnnProbeTimeout: "1h"},
			want: func(p *Policy) { p.Probe.Interval, p.Probe.Timeout = time.Hour, time.Hour }},
		{name: "probe-interval below 1s", ann: map[string]string{AnnProbeInterval: "500ms"},
			probs: []problem{{AnnProbeInterval, ErrValue}}},
		{name: "probe-interval above 1h", ann: map[string]string{AnnProbeInterval: "61m"},
			probs: []problem{{AnnProbeInterval, ErrValue}}},
		{name: "probe-interval not a duration", ann: map[string]string{AnnProbeInterval: "10"},
			probs: []problem{{AnnProbeInterval, ErrValue}}},
		{name: "probe-timeout 0", ann: map[string]string{AnnProbeTimeout: "0s"}, probs: []problem{{AnnProbeTimeout, ErrValue}}},
		{name: "probe-timeout above the default interval", ann: map[string]string{AnnProbeTimeout: "20s"},
			probs: []problem{{AnnProbeTimeout, ErrValue}}},
		{name: "probe-interval below the default timeout", ann: map[string]string{AnnProbeInterval: "1s"},
			probs: []problem{{AnnProbeInterval, ErrValue}}},
		{name: "probe timeout above interval keeps the default timing",
			ann:   map[string]string{AnnProbeInterval: "5s", AnnProbeTimeout: "6s", AnnProbe: "tcp"},
			want:  func(p *Policy) { p.Probe.Check = health.TCP },
			probs: []problem{{AnnProbeTimeout, ErrValue}}},
		{name: "bad timeout with a valid interval", ann: map[string]string{AnnProbeInterval: "1s", AnnProbeTimeout: "x"},
			probs: []problem{{AnnProbeInterval, ErrValue}, {AnnProbeTimeout, ErrValue}}},
		{name: "probe-expect", ann: map[string]string{AnnProbeExpect: "204"},
			want: func(p *Policy) { p.Probe.ExpectLow, p.Probe.ExpectHigh = 204, 204 }},
		{name: "bad probe-expect", ann: map[string]string{AnnProbeExpect: "200-600"}, probs: []problem{{AnnProbeExpect, ErrValue}}},
		{name: "probe-body", ann: map[string]string{AnnProbeBody: ` "ok" `}, want: func(p *Policy) { p.Probe.Body = ` "ok" ` }},
		{name: "probe-body too long", ann: map[string]string{AnnProbeBody: strings.Repeat("x", 257)},
			probs: []problem{{AnnProbeBody, ErrValue}}},

		{name: "problems are sorted and good values kept",
			ann:  map[string]string{AnnSpill: "x", AnnShards: "3", Prefix + "zzz": "", AnnPolicy: "x", AnnFall: "x"},
			want: func(p *Policy) { p.Shards = 3 },
			probs: []problem{{AnnFall, ErrValue}, {AnnPolicy, ErrValue}, {AnnSpill, ErrValue},
				{Prefix + "zzz", ErrUnknown}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := Default()
			if tc.def != nil {
				def = withDefaults(*tc.def)
			}
			want := def
			if tc.want != nil {
				tc.want(&want)
			}
			got, probs := Parse(tc.ann, def)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("policy\n got %+v\nwant %+v", got, want)
			}
			if len(probs) != len(tc.probs) {
				t.Fatalf("problems %v, want %v", probs, tc.probs)
			}
			for i, p := range probs {
				w := tc.probs[i]
				if p.Annotation != w.key || !errors.Is(p.Err, w.err) || p.Value != tc.ann[w.key] {
					t.Errorf("problem %d: %s=%q: %v; want %s wrapping %v", i, p.Annotation, p.Value, p.Err, w.key, w.err)
				}
			}
		})
	}
}

// withDefaults fills what p leaves zero from Default().
func withDefaults(p Policy) Policy {
	d := Default()
	d.Kind, d.Failover, d.Weights, d.Spill, d.ProbePortName = p.Kind, p.Failover, p.Weights, p.Spill, p.ProbePortName
	if p.Probe.Check != health.None {
		d.Probe.Check = p.Probe.Check
	}
	if p.Probe.Port != 0 {
		d.Probe.Port = p.Probe.Port
	}
	return d
}

// names returns "c0,c1,...": n distinct labels.
func names(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("c")
		b.WriteString(string(rune('a'+i/26)) + string(rune('a'+i%26)))
	}
	return b.String()
}

// TestParseMessages checks that a bad value's error says the form wanted.
func TestParseMessages(t *testing.T) {
	tests := []struct{ key, value, says string }{
		{AnnPolicy, "x", "closest, failover, weighted or roundrobin"},
		{AnnShards, "x", "from 1 to 64"},
		{AnnWeights, "x", `"cluster=W, cluster=W"`},
		{AnnMinReadyFraction, "x", "(50%)"},
		{AnnSpill, "x", "from 0 to 100"},
		{AnnProbePort, "x_", "Service port name"},
		{AnnProbeInterval, "x", "from 1s to 1h"},
		{AnnProbeTimeout, "11s", "timeout 11s is not between 0 and the interval 10s; using the default interval 10s and timeout 2s"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			_, probs := Parse(map[string]string{tc.key: tc.value}, Default())
			if len(probs) != 1 || !strings.Contains(probs[0].Err.Error(), tc.says) {
				t.Errorf("problems %v, want one saying %q", probs, tc.says)
			}
		})
	}
}

func TestParseAllocs(t *testing.T) {
	def := Default()
	for name, ann := range map[string]map[string]string{"nil": nil, "empty": {}} {
		if n := testing.AllocsPerRun(100, func() { Parse(ann, def) }); n != 0 {
			t.Errorf("Parse(%s) allocates %v times, want 0", name, n)
		}
	}
}

// TestParseChecksOnlyAnnotatedProbes checks that a defaults probe that
// does not validate (the zero Policy's) is not reported against a
// service whose annotations do not touch the probe.
func TestParseChecksOnlyAnnotatedProbes(t *testing.T) {
	tests := []struct {
		name  string
		ann   map[string]string
		probs int
	}{
		{"no probe annotation", map[string]string{AnnShards: "2"}, 0},
		{"probe annotation", map[string]string{AnnProbe: "tcp"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Parse(tc.ann, Policy{})
			if len(probs) != tc.probs {
				t.Errorf("problems %v, want %d", probs, tc.probs)
			}
		})
	}
}

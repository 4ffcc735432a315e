package policy

import (
	"strings"
	"testing"
)

// FuzzParse feeds the annotation parser any annotation (issue 16, item 6):
// it never panics, a value it refuses is a Problem naming the annotation,
// and the policy it returns is always one the answer logic can use
// (CheckDefaults accepts it): a bad annotation falls back, it does not
// break the service.
func FuzzParse(f *testing.F) {
	for _, s := range Settings() {
		f.Add(Prefix+s.Annotation, "1")
	}
	f.Add(Prefix+"policy", "failover")
	f.Add(Prefix+"failover", "eu, us-central1")
	f.Add(Prefix+"weights", "eu=3,us=1")
	f.Add(Prefix+"probe", "http://x/healthz 200")
	f.Add(Prefix+"shards", "-1")
	f.Add(Prefix+"policy", "weighted")
	f.Fuzz(func(t *testing.T, key, value string) {
		if !strings.HasPrefix(key, Prefix) {
			key = Prefix + key
		}
		p, problems := Parse(map[string]string{key: value}, Default())
		for _, pr := range problems {
			if pr.Annotation == "" || pr.Err == nil {
				t.Fatalf("a problem that names nothing: %+v", pr)
			}
		}
		if err := CheckDefaults(p); err != nil {
			t.Fatalf("%s=%q gave a policy CheckDefaults refuses: %v (problems %v)", key, value, err, problems)
		}
	})
}

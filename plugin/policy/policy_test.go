package policy

import "testing"

func TestOwns(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{AnnPolicy, true},
		{Prefix + "no-such-key", true},
		{Prefix, true},
		{"federation.meridian.dev/name", false},
		{"xmeridian.dev/policy", false},
		{"meridian.dev", false},
		{"Meridian.dev/policy", false},
		{"example.com/meridian.dev/policy", false},
	}
	for _, tc := range tests {
		if got := Owns(tc.key); got != tc.want {
			t.Errorf("Owns(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

package health

import "testing"

func TestState(t *testing.T) {
	tests := []struct {
		s      State
		name   string
		usable bool
	}{
		{Up, "up", true},
		{Stale, "stale", true},
		{Down, "down", false},
		{State(9), "unknown", false},
	}
	for _, tc := range tests {
		if tc.s.String() != tc.name || tc.s.Usable() != tc.usable {
			t.Errorf("State(%d): %q usable %v, want %q %v", tc.s, tc.s.String(), tc.s.Usable(), tc.name, tc.usable)
		}
	}
}

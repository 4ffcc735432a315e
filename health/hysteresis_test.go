package health

import "testing"

func TestHysteresis(t *testing.T) {
	// results: '+' passes, '-' fails, 'r' restarts. want: the state after
	// each ('u' up, 'd' down) and changes: '!' where Record reported a
	// change.
	tests := []struct {
		name       string
		rise, fall int
		results    string
		want       string
		changes    string
	}{
		{"first pass: up, no change", 2, 3, "+", "u", "."},
		{"first failure: down at once", 2, 3, "-", "d", "!"},
		{"down at the third failure", 2, 3, "+---", "uuud", "...!"},
		{"a pass resets the failures", 2, 3, "+--+--", "uuuuuu", "......"},
		{"up at the second pass", 2, 3, "-++", "ddu", "!.!"},
		{"a failure resets the passes", 2, 3, "-+-+-++", "ddddddu", "!.....!"},
		{"no flapping on alternation", 2, 3, "+-+-+-+-", "uuuuuuuu", "........"},
		{"rise 1 fall 1 follows each result", 1, 1, "+-+--+", "ududdu", ".!!!.!"},
		{"rise 3 fall 2", 3, 2, "+--+++-", "uuddduu", "..!..!."},
		{"long runs stay put", 2, 3, "----++++", "ddddduuu", "!....!.."},
		{"zero thresholds count as 1", 0, 0, "+-+", "udu", ".!!"},
		{"restart keeps down until the next result", 2, 3, "-r+", "ddu", "!.!"},
		{"restart keeps up; the next failure counts at once", 2, 3, "+r-", "uud", "..!"},
		{"restart forgets the run", 2, 3, "+--r+-", "uuuuuu", "......"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Hysteresis
			if !h.Up() || h.Known() || h.Run() != 0 {
				t.Fatalf("zero value: up %v known %v run %d, want pending (true, false, 0)", h.Up(), h.Known(), h.Run())
			}
			var got, changes []byte
			for _, r := range []byte(tc.results) {
				var c bool
				if r == 'r' {
					h.Restart()
				} else {
					c = h.Record(r == '+', tc.rise, tc.fall)
				}
				got = append(got, map[bool]byte{true: 'u', false: 'd'}[h.Up()])
				changes = append(changes, map[bool]byte{true: '!', false: '.'}[c])
				if h.Known() == (r == 'r') {
					t.Fatalf("known %v after %q", h.Known(), r)
				}
			}
			if string(got) != tc.want || string(changes) != tc.changes {
				t.Errorf("results %s: states %s changes %s, want %s %s", tc.results, got, changes, tc.want, tc.changes)
			}
		})
	}
}

func TestHysteresisRun(t *testing.T) {
	var h Hysteresis
	for i, r := range []bool{false, false, true, true, true, false} {
		h.Record(r, 2, 3)
		want := []int{1, 2, 1, 2, 3, 1}[i]
		if h.Run() != want {
			t.Errorf("after result %d: run %d, want %d", i, h.Run(), want)
		}
	}
}

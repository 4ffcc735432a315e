package health

import (
	"slices"
	"strconv"
	"testing"
)

func TestHistory(t *testing.T) {
	for _, tc := range []struct {
		size, add int
		want      []string // What of Recent, newest first
	}{
		{size: 3, add: 0, want: nil},
		{size: 3, add: 2, want: []string{"1", "0"}},
		{size: 3, add: 3, want: []string{"2", "1", "0"}},
		{size: 3, add: 4, want: []string{"3", "2", "1"}},
		{size: 3, add: 8, want: []string{"7", "6", "5"}},
		{size: 1, add: 5, want: []string{"4"}},
	} {
		h := NewHistory(tc.size)
		for i := range tc.add {
			h.Add(Transition{What: strconv.Itoa(i)})
		}
		ts, total := h.Recent()
		var got []string
		for _, tr := range ts {
			got = append(got, tr.What)
		}
		if !slices.Equal(got, tc.want) || total != uint64(tc.add) {
			t.Errorf("size %d, %d added: Recent = %v, %d; want %v, %d", tc.size, tc.add, got, total, tc.want, tc.add)
		}
	}
	var nilHist *History
	nilHist.Add(Transition{})
	if ts, n := nilHist.Recent(); ts != nil || n != 0 {
		t.Errorf("nil history: Recent = %v, %d", ts, n)
	}
}

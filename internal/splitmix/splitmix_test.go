package splitmix

import "testing"

// TestMix checks the finalizer against SplitMix64's reference outputs:
// the generator seeded with 0 yields Mix(k * 0x9e3779b97f4a7c15).
func TestMix(t *testing.T) {
	const gamma = 0x9e3779b97f4a7c15
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	for i, w := range want {
		if got := Mix(uint64(i+1) * gamma); got != w {
			t.Errorf("Mix(%d*gamma) = %#x, want %#x", i+1, got, w)
		}
	}
}

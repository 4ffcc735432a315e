package answer

import (
	"fmt"
	"math"
	"testing"

	"github.com/meridian-dns/meridian/plugin/policy"
)

// draws is the number of queries the statistical tests make, and within
// is how far a measured share may be from the expected one: with 10,000
// draws a share's standard deviation is at most 0.5 points, so 2 points
// is 4 deviations. The draws are a fixed sequence, so the tests are
// deterministic.
const (
	draws  = 10000
	within = 0.02
)

// draw returns the i-th Rand of the statistical tests: splitmix64 of i.
func draw(i int) uint64 {
	r := rng(uint64(i))
	return r.next()
}

func TestChooseSpill(t *testing.T) {
	tests := []struct {
		name     string
		spill    float64
		degraded []string
		want     float64
	}{
		{"no spill", 0, []string{"europe-west1-b"}, 0},
		{"10%", 0.1, []string{"europe-west1-b"}, 0.1},
		{"50%", 0.5, []string{"europe-west1-b"}, 0.5},
		{"all", 1, []string{"europe-west1-b"}, 1},
		{"closest not degraded", 0.5, []string{"us-central1-a", "us-central1-b", "us-central1-c"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := service(t, policy.Policy{Shards: 2, Spill: tc.spill}, nil, tc.degraded)
			spilled := 0
			for i := range draws {
				res := Choose(svc, Query{Level: Global, Family: V4, Loc: paris, Rand: draw(i)}, Options{}, nil)
				got := clusters(res)
				want := []string{"europe-west1-b", "us-central1-?"}
				if res.Spilled {
					spilled++
					want[0], want[1] = want[1], want[0]
				}
				if !match(got, want) {
					t.Fatalf("draw %d: got %v, spilled %v", i, got, res.Spilled)
				}
			}
			share := float64(spilled) / draws
			t.Logf("spill %.2f: measured %.4f over %d draws", tc.spill, share, draws)
			if math.Abs(share-tc.want) > within || (tc.want == 0) != (spilled == 0) || (tc.want == 1) != (spilled == draws) {
				t.Errorf("spilled %.4f of answers, want %.2f +- %.2f", share, tc.want, within)
			}
		})
	}
}

func TestChooseWeighted(t *testing.T) {
	ws := []policy.Weight{{Cluster: "asia-east1-a", Weight: 1}, {Cluster: "europe-west1-b", Weight: 3},
		{Cluster: "us-central1-a", Weight: 6}, {Cluster: "us-central1-b", Weight: 0}}
	// The first pick goes by weight; the second is the first pick of the
	// rest: P(second = x) = sum over y != x of P(first = y) * w(x) / (10 - w(y)).
	first := map[string]float64{"asia-east1-a": 0.1, "europe-west1-b": 0.3, "us-central1-a": 0.6}
	second := map[string]float64{
		"asia-east1-a":   0.3*1/7 + 0.6*1/4,
		"europe-west1-b": 0.1*3/9 + 0.6*3/4,
		"us-central1-a":  0.1*6/9 + 0.3*6/7,
	}
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			svc := service(t, policy.Policy{Kind: policy.Weighted, Shards: shards, Weights: ws}, nil, nil)
			counts := [2]map[string]int{{}, {}}
			for i := range draws {
				res := Choose(svc, Query{Level: Global, Family: V4, Loc: taipei, Rand: draw(i)}, Options{}, nil)
				got := clusters(res)
				if len(got) != shards || !distinct(got) || res.Dependent || res.Policy != policy.Weighted {
					t.Fatalf("draw %d: got %v dependent %v policy %v, want %d distinct, not dependent, weighted",
						i, got, res.Dependent, res.Policy, shards)
				}
				for j, c := range got {
					counts[j][c]++
				}
			}
			for j, want := range []map[string]float64{first, second}[:shards] {
				for _, c := range demoNames {
					share := float64(counts[j][c]) / draws
					t.Logf("pick %d %s: measured %.4f, want %.4f", j+1, c, share, want[c])
					if math.Abs(share-want[c]) > within || (want[c] == 0) != (counts[j][c] == 0) {
						t.Errorf("pick %d is %s in %.4f of answers, want %.4f +- %.2f", j+1, c, share, want[c], within)
					}
				}
			}
		})
	}
}

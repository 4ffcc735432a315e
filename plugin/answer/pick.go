package answer

import (
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// The policies. Each takes the query's candidates, in cluster-name order
// and ranked by distance when the policy orders by it, and the result to
// fill; n is the most shards the answer holds.

// closest takes the n closest candidates at the global level, where the
// spill share of queries (by rand) swap a degraded first with the second;
// every candidate, in name order, at the others.
func closest(cands []candidate, n int, global bool, spill float64, rand uint64, res Result) Result {
	if !global {
		res.Shards = take(res.Shards, cands, len(cands))
		return res
	}
	sortCandidates(cands)
	if spill > 0 && len(cands) > 1 && cands[0].shard.Degraded {
		r := rng(rand)
		if r.unit() < spill {
			cands[0], cands[1] = cands[1], cands[0]
			res.Spilled = true
		}
	}
	res.Shards = take(res.Shards, cands, n)
	res.Dependent = len(cands) > 1
	return res
}

// failover orders candidates by the first list entry that names their
// cluster or region (unlisted last), then as closest does: by distance at
// the global level, by name at the others.
func failover(cands []candidate, list []string, n int, global bool, res Result) Result {
	for i := range cands {
		cands[i].group = int32(entry(list, cands[i].shard.Cluster))
	}
	sortCandidates(cands)
	res.Shards = take(res.Shards, cands, n)
	res.Dependent = global && sharesGroup(cands, len(res.Shards))
	return res
}

// entry returns the index of the first list entry that is cl's name or
// region, or len(list).
func entry(list []string, cl *model.Cluster) int {
	for i, e := range list {
		if e == cl.Name || (e == cl.Region && cl.Region != "") {
			return i
		}
	}
	return len(list)
}

// sharesGroup reports whether one of the first n sorted candidates shares
// its group with another candidate: then distance decides which of them
// are named, or in which order.
func sharesGroup(cands []candidate, n int) bool {
	for i := 0; i < n && i+1 < len(cands); i++ {
		if cands[i].group == cands[i+1].group {
			return true
		}
	}
	return false
}

// weighted picks n distinct candidates by weighted sampling without
// replacement, driven by rand. It returns false, with res unchanged, when
// no candidate has a weight above 0.
func weighted(cands []candidate, weights []policy.Weight, n int, rand uint64, res Result) (Result, bool) {
	var arr [32]uint32
	ws := arr[:0] // ws[i] is the weight of cands[i]
	var total uint64
	for _, cd := range cands {
		if w := weightOf(weights, cd.shard.Cluster.Name); w > 0 {
			cands[len(ws)] = cd
			ws = append(ws, w)
			total += uint64(w)
		}
	}
	if len(ws) == 0 {
		return res, false
	}
	r := rng(rand)
	for j := 0; j < len(ws) && j < n; j++ {
		u := r.below(total)
		i := j
		for u >= uint64(ws[i]) {
			u -= uint64(ws[i])
			i++
		}
		cands[i], cands[j] = cands[j], cands[i]
		ws[i], ws[j] = ws[j], ws[i]
		total -= uint64(ws[j])
		res.Shards = append(res.Shards, cands[j].shard)
	}
	return res, true
}

// weightOf returns cluster's weight, at most maxWeight.
func weightOf(ws []policy.Weight, cluster string) uint32 {
	for _, w := range ws {
		if w.Cluster == cluster {
			return uint32(min(max(w.Weight, 0), maxWeight))
		}
	}
	return 0
}

// maxWeight bounds a weight so that any number of them sum within a
// uint64; package policy allows at most 1,000,000.
const maxWeight = 1 << 31

// roundRobin takes n candidates in name order, starting at seq mod their
// count.
func roundRobin(cands []candidate, n int, seq uint64, res Result) Result {
	start := int(seq % uint64(len(cands)))
	for i := 0; i < len(cands) && i < n; i++ {
		res.Shards = append(res.Shards, cands[(start+i)%len(cands)].shard)
	}
	return res
}

// take appends the first n candidates' shards (all if fewer) to out.
func take(out []*model.Shard, cands []candidate, n int) []*model.Shard {
	for i := 0; i < len(cands) && i < n; i++ {
		out = append(out, cands[i].shard)
	}
	return out
}

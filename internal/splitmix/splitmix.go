// Package splitmix holds the SplitMix64 finalizer, shared by the answer
// choice (rendezvous ties, per-query numbers) and the sources' object
// fingerprints.
package splitmix

// Mix is the SplitMix64 finalizer: it spreads x's bits, so that hashes
// combined by XOR or sums do not cancel out and nearby inputs map far
// apart.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

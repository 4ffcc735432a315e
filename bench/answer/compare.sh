#!/usr/bin/env bash
# compare.sh REV [ROUNDS]: BenchmarkServeDNS of commit REV against the work
# tree, side by side in one run, with the same harness where it builds: REV's
# own plugin/bench_test.go (a writer that drops replies) is built into both
# test binaries, so the figures differ only by the product code. Each binary runs
# pinned to CPU 1, alternating round by round; benchstat compares the medians.
# Needs benchstat (go install golang.org/x/perf/cmd/benchstat@latest).
set -euo pipefail
rev=${1:?usage: compare.sh REV [ROUNDS [PACKAGE [BENCH]]]}
rounds=${2:-10}
pkg=${3:-plugin}     # a package folder, relative to the top
bench=${4:-ServeDNS} # a -test.bench pattern
top=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'git -C "$top" worktree remove --force "$tmp/before" >/dev/null 2>&1 || true; git -C "$top" worktree remove --force "$tmp/after" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
benchstat=$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")
[ -x "$benchstat" ] || { echo "compare.sh: benchstat not found" >&2; exit 1; }

git -C "$top" worktree add -q "$tmp/before" "$rev"
git -C "$top" worktree add -q --detach "$tmp/after" HEAD
git -C "$top" diff HEAD | git -C "$tmp/after" apply --allow-empty
if [ "$pkg" != plugin ]; then
	# Other packages' benchmarks are built with their own commit's files.
	(cd "$tmp/before" && go test -c -o "$tmp/before.test" "./$pkg/")
	(cd "$tmp/after" && go test -c -o "$tmp/after.test" "./$pkg/")
else
cp "$tmp/after/plugin/bench_test.go" "$tmp/own_bench_test.go"
cp "$tmp/before/plugin/bench_test.go" "$tmp/after/plugin/bench_test.go"
(cd "$tmp/before" && go test -c -o "$tmp/before.test" ./plugin/)
if ! (cd "$tmp/after" && go test -c -o "$tmp/after.test" ./plugin/ 2>/dev/null); then
	# The harness reaches into the plugin's internals; when REV's no
	# longer compiles against the work tree, each side runs its own, whose
	# BenchmarkServeDNS asks the same queries of the same federation.
	echo "compare.sh: $rev's harness does not build against the work tree; each side uses its own" >&2
	cp "$tmp/own_bench_test.go" "$tmp/after/plugin/bench_test.go"
	(cd "$tmp/after" && go test -c -o "$tmp/after.test" ./plugin/)
fi
fi

cd "$top/$pkg" # the test binaries read testdata relative to their package
for i in $(seq "$rounds"); do
	for side in before after; do
		taskset -c 1 "$tmp/$side.test" -test.run '^$' -test.bench "$bench" -test.benchmem -test.count 1 |
			grep '^Benchmark' >>"$tmp/$side.txt"
	done
done
"$benchstat" "$tmp/before.txt" "$tmp/after.txt"

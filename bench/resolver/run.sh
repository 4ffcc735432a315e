#!/usr/bin/env bash
# Side-by-side UDP throughput on loopback of the meridian resolver role's
# local answer (bin/meridian) and stock CoreDNS's file plugin (bin/coredns),
# same names, same addresses, same run. See README.md in this folder.
#
#   make build coredns && bench/resolver/run.sh
#
# Environment (defaults in brackets): ROUNDS [5], SECONDS_PER_ROUND [10],
# SERVICES [1000], WITH_CACHE [1] (also run stock file + cache, as context),
# WARMUP [2] (seconds of unmeasured load per server first), SERVER_CPU [1],
# CLIENT_CPU [0], BASE_PORT [15353] (three consecutive UDP ports on
# 127.0.0.1), SETTLE [20] (at most this many seconds of waiting before each
# round for a quiet second), MERIDIAN_BIN, COREDNS_BIN, KEEP [0] (keep the
# work folder).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-10}
SERVICES=${SERVICES:-1000}
WITH_CACHE=${WITH_CACHE:-1}
WARMUP=${WARMUP:-2}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
BASE_PORT=${BASE_PORT:-15353}
SETTLE=${SETTLE:-20}
KEEP=${KEEP:-0}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MERIDIAN_BIN=${MERIDIAN_BIN:-$ROOT/bin/meridian}
COREDNS_BIN=${COREDNS_BIN:-$ROOT/bin/coredns}

FED=myfed
NS=bench
ZONE=example.com
# dnsperf: 4 sockets, 1 thread, at most 100 queries in flight (the notes in
# /work/shared/notes/dns-benchmarking.md: this saturates a Go server).
DNSPERF_OPTS=(-c 4 -T 1 -q 100)

die() { echo "run.sh: $*" >&2; exit 1; }

WORK='' MERIDIAN_DESC='' COREDNS_DESC=''
declare -A PID=()     # server name -> pid
declare -A PORT=()    # server name -> UDP port
declare -A R=()       # "server,round,field" -> value
SERVERS=()

# cleanup stops the servers (SIGTERM, then SIGKILL after 10 s) and removes
# the work folder.
cleanup() {
	local name i
	for name in "${!PID[@]}"; do
		kill "${PID[$name]}" 2>/dev/null || true
	done
	for name in "${!PID[@]}"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "${PID[$name]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "${PID[$name]}" 2>/dev/null || true
		wait "${PID[$name]}" 2>/dev/null || true
	done
	if [[ -n $WORK && $KEEP != 1 ]]; then
		rm -rf "$WORK"
	elif [[ -n $WORK ]]; then
		echo "work folder kept: $WORK" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check_args() {
	local v
	for v in ROUNDS SECONDS_PER_ROUND SERVICES WARMUP SERVER_CPU CLIENT_CPU BASE_PORT SETTLE; do
		[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v}: want a whole number"
	done
	((ROUNDS >= 1 && SECONDS_PER_ROUND >= 1)) || die "ROUNDS and SECONDS_PER_ROUND must be at least 1"
	((SERVICES >= 1 && SERVICES <= 64000)) || die "SERVICES=$SERVICES: want 1..64000"
	((BASE_PORT >= 1024 && BASE_PORT <= 65533)) || die "BASE_PORT=$BASE_PORT: want 1024..65533"
	((SERVER_CPU != CLIENT_CPU)) || die "SERVER_CPU and CLIENT_CPU must differ"
	(($(nproc) >= 2)) || die "needs 2 CPUs (server on one, dnsperf on the other); nproc is $(nproc)"
	[[ -x $MERIDIAN_BIN ]] || die "$MERIDIAN_BIN missing: run 'make build'"
	[[ -x $COREDNS_BIN ]] || die "$COREDNS_BIN missing: run 'make coredns'"
}

# need_tools installs dnsperf and dig from Debian when they are missing.
need_tools() {
	local pkgs=() sudo=()
	command -v dnsperf >/dev/null || pkgs+=(dnsperf)
	command -v dig >/dev/null || pkgs+=(bind9-dnsutils)
	command -v taskset >/dev/null || pkgs+=(util-linux)
	((${#pkgs[@]} == 0)) && return
	command -v apt-get >/dev/null || die "missing ${pkgs[*]} and no apt-get to install them"
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "missing ${pkgs[*]}; install them as root (apt-get install ${pkgs[*]})"
		sudo=(sudo -n)
	fi
	echo "installing ${pkgs[*]} from Debian..." >&2
	if ! timeout 300 "${sudo[@]}" apt-get install -y -qq "${pkgs[@]}" >&2; then
		timeout 300 "${sudo[@]}" apt-get update -qq >&2 || true
		timeout 300 "${sudo[@]}" apt-get install -y -qq "${pkgs[@]}" >&2 ||
			die "could not install ${pkgs[*]} with apt-get"
	fi
	if ! command -v dnsperf >/dev/null || ! command -v dig >/dev/null; then
		die "dnsperf or dig still missing after apt-get install"
	fi
}

# port_free fails when something already listens on UDP port $1.
port_free() {
	command -v ss >/dev/null || return 0
	[[ -z $(ss -Hlun "sport = :$1" 2>/dev/null) ]]
}

# ip_of prints the ClusterIP of service $1 (1-based): 10.96.x.y, y in 1..250.
ip_of() { echo "10.96.$((($1 - 1) / 250)).$((($1 - 1) % 250 + 1))"; }

# service_yaml prints service $1 (svc-$1) with ClusterIP $2 and an
# EndpointSlice with one ready endpoint.
service_yaml() {
	cat <<-EOF
		---
		apiVersion: v1
		kind: Service
		metadata:
		  name: svc-$1
		  namespace: $NS
		  labels:
		    federation.meridian.dev/name: $FED
		spec:
		  clusterIP: $2
		  selector: {app: svc-$1}
		  ports:
		    - {name: http, port: 80, protocol: TCP}
		---
		apiVersion: discovery.k8s.io/v1
		kind: EndpointSlice
		metadata:
		  name: svc-$1-1
		  namespace: $NS
		  labels:
		    kubernetes.io/service-name: svc-$1
		addressType: IPv4
		ports:
		  - {name: http, port: 80, protocol: TCP}
		endpoints:
		  - {addresses: [${2/#10.96./10.244.}], conditions: {ready: true}, zone: bench-region-a}
	EOF
}

# generate writes the manifests of cluster "home" (one Ready Node, SERVICES
# Services), the zone file with the same names, the query file and the
# expected answers.
generate() {
	local i ip dir=$WORK/manifests/home
	mkdir -p "$dir"
	cat >"$dir/nodes.yaml" <<-EOF
		apiVersion: v1
		kind: Node
		metadata:
		  name: home-node-1
		  labels:
		    kubernetes.io/hostname: home-node-1
		    topology.kubernetes.io/region: bench-region
		    topology.kubernetes.io/zone: bench-region-a
		status:
		  conditions:
		    - {type: Ready, status: "True"}
	EOF
	{
		# shellcheck disable=SC2016 # $ORIGIN and $TTL are zone file directives
		printf '$ORIGIN %s.\n$TTL 5\n' "$ZONE"
		printf '@ IN SOA ns1.%s. hostmaster.%s. 1 7200 3600 1209600 5\n' "$ZONE" "$ZONE"
		printf '@ IN NS ns1.%s.\nns1 IN A 127.0.0.1\n' "$ZONE"
	} >"$WORK/zone"
	: >"$WORK/queries"
	: >"$WORK/expected"
	for ((i = 1; i <= SERVICES; i++)); do
		ip=$(ip_of "$i")
		service_yaml "$i" "$ip"
		echo "svc-$i.$NS.$FED.svc IN A $ip" >>"$WORK/zone"
		echo "svc-$i.$NS.$FED.svc.$ZONE A" >>"$WORK/queries"
		echo "$ip" >>"$WORK/expected"
	done >"$dir/services.yaml"
}

# corefile prints the Corefile of server $1 on port $2.
corefile() {
	echo "$ZONE:$2 {"
	echo "    bind 127.0.0.1"
	case $1 in
	resolver)
		printf '    meridian {\n        role resolver\n        federation %s\n        manifests %s\n' "$FED" "$WORK/manifests"
		printf '        local_cluster home\n        upstream 127.0.0.1:9\n    }\n'
		;;
	file) echo "    file $WORK/zone" ;;
	file+cache) printf '    cache\n    file %s\n' "$WORK/zone" ;;
	esac
	echo "}"
}

# start_server starts server $1 on port $2, pinned to SERVER_CPU.
start_server() {
	local name=$1 port=$2 bin=$COREDNS_BIN
	[[ $name == resolver ]] && bin=$MERIDIAN_BIN
	port_free "$port" || die "UDP port $port on 127.0.0.1 is taken; set BASE_PORT"
	corefile "$name" "$port" >"$WORK/Corefile.$name"
	taskset -c "$SERVER_CPU" "$bin" -conf "$WORK/Corefile.$name" >"$WORK/log.$name" 2>&1 &
	PID[$name]=$!
	PORT[$name]=$port
	SERVERS+=("$name")
}

# await_answer waits up to 20 s for server $1 to answer svc-1 with its IP.
await_answer() {
	local name=$1 want deadline=$((SECONDS + 20))
	want=$(ip_of 1)
	while ((SECONDS < deadline)); do
		kill -0 "${PID[$name]}" 2>/dev/null || { cat "$WORK/log.$name" >&2; die "$name exited"; }
		[[ $(dig +short +time=1 +tries=1 @127.0.0.1 -p "${PORT[$name]}" "svc-1.$NS.$FED.svc.$ZONE" A 2>/dev/null) == "$want" ]] && return
		sleep 0.2
	done
	tail -20 "$WORK/log.$name" >&2
	die "$name on port ${PORT[$name]} did not answer svc-1.$NS.$FED.svc.$ZONE A with $want within 20 s"
}

# verify checks that server $1 answers svc-1 as expected (NOERROR, aa, TTL
# 5, the ClusterIP) and every name with its own ClusterIP, asked as dnsperf
# asks (no EDNS); prints the answer, the flags and the reply's size.
verify() {
	local name=$1 port=${PORT[$1]} out got qname="svc-1.$NS.$FED.svc.$ZONE."
	out=$(dig +noedns +time=2 +tries=1 @127.0.0.1 -p "$port" "$qname" A)
	grep -q 'status: NOERROR' <<<"$out" || { echo "$out" >&2; die "$name: svc-1 is not NOERROR"; }
	grep -Eq 'flags:[a-z ]* aa[ ;]' <<<"$out" || { echo "$out" >&2; die "$name: svc-1 answer is not authoritative"; }
	# cache counts the TTL down from 5 since await_answer's query.
	local min=5
	[[ $name == *cache ]] && min=0
	awk -v q="$qname" -v ip="$(ip_of 1)" -v min="$min" \
		'$1 == q && $2 >= min && $2 <= 5 && $4 == "A" && $5 == ip { ok = 1 } END { exit !ok }' <<<"$out" ||
		{ echo "$out" >&2; die "$name: svc-1 answer is not '$qname 5 IN A $(ip_of 1)'"; }
	got=$(dig +noedns +short +time=2 +tries=1 @127.0.0.1 -p "$port" -f "$WORK/queries")
	[[ $got == "$(cat "$WORK/expected")" ]] ||
		die "$name: the answers to the $SERVICES names differ from their ClusterIPs (first difference: $(diff <(echo "$got") "$WORK/expected" | head -3 | tr '\n' ' '))"
	printf '%-11s %s  [%s; answer %s, authority %s, additional %s; %s bytes]\n' "$name" \
		"$(grep -E "^$qname" <<<"$out" | tr -s '\t ' ' ')" "$(grep -o 'flags: [a-z ]*' <<<"$out" | head -1)" \
		"$(grep -o 'ANSWER: [0-9]*' <<<"$out" | cut -d' ' -f2)" "$(grep -o 'AUTHORITY: [0-9]*' <<<"$out" | cut -d' ' -f2)" \
		"$(grep -o 'ADDITIONAL: [0-9]*' <<<"$out" | cut -d' ' -f2)" "$(grep -o 'MSG SIZE  rcvd: [0-9]*' <<<"$out" | awk '{ print $4 }')"
}

# proc_ticks prints the CPU ticks (user + system) process $1 has used.
proc_ticks() {
	local f
	read -ra f <"/proc/$1/stat"
	echo $((f[13] + f[14]))
}

# cpu_ticks prints the busy, total, and interrupt (hard and soft) ticks of
# CPU $1 from /proc/stat.
cpu_ticks() {
	awk -v c="cpu$1" '$1 == c { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6, $7 + $8 }' /proc/stat
}

# measure runs dnsperf against server $1 for $2 seconds; with round $3 > 0
# it records QPS, latency, loss, rcodes and both CPUs' busy shares.
measure() {
	local name=$1 secs=$2 round=$3 out s0 s1 c0 c1 e0 e1 d0 d1 p0 p1 i0 j0
	p0=$(proc_ticks "${PID[$name]}")
	read -r s0 c0 i0 < <(cpu_ticks "$SERVER_CPU")
	read -r s1 c1 _ < <(cpu_ticks "$CLIENT_CPU")
	out=$(timeout $((secs + 30)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$name]}" \
		-d "$WORK/queries" "${DNSPERF_OPTS[@]}" -l "$secs" 2>&1) || { echo "$out" >&2; die "dnsperf against $name failed"; }
	read -r e0 d0 j0 < <(cpu_ticks "$SERVER_CPU")
	read -r e1 d1 _ < <(cpu_ticks "$CLIENT_CPU")
	p1=$(proc_ticks "${PID[$name]}")
	((round > 0)) || return 0
	# Busy shares in per mille of each CPU's ticks over the round.
	R[$name,$round,srv]=$(((e0 - s0) * 1000 / (d0 - c0 > 0 ? d0 - c0 : 1)))
	R[$name,$round,proc]=$(((p1 - p0) * 1000 / (d0 - c0 > 0 ? d0 - c0 : 1)))
	R[$name,$round,irq]=$(((j0 - i0) * 1000 / (d0 - c0 > 0 ? d0 - c0 : 1)))
	# What else kept the server's CPU busy: other processes, kernel threads.
	R[$name,$round,other]=$((R[$name,$round,srv] - R[$name,$round,proc] - R[$name,$round,irq]))
	((R[$name,$round,other] >= 0)) || R[$name,$round,other]=0
	R[$name,$round,cli]=$(((e1 - s1) * 1000 / (d1 - c1 > 0 ? d1 - c1 : 1)))
	R[$name,$round,qps]=$(awk '/Queries per second:/ { print $4 }' <<<"$out")
	R[$name,$round,lat]=$(awk '/Average Latency \(s\):/ { printf "%.0f", $4 * 1e6 }' <<<"$out")
	R[$name,$round,lost]=$(awk '/Queries lost:/ { print $3 }' <<<"$out")
	R[$name,$round,sent]=$(awk '/Queries sent:/ { print $3 }' <<<"$out")
	R[$name,$round,rcodes]=$(awk -F': *' '/Response codes:/ { print $2 }' <<<"$out")
	R[$name,$round,size]=$(awk '/Average packet size:/ { print $7 }' <<<"$out")
	[[ -n ${R[$name,$round,qps]} ]] || { echo "$out" >&2; die "no QPS in dnsperf's output for $name"; }
}

permille() { awk -v p="$1" 'BEGIN { printf "%.0f%%", p / 10 }'; }

facts() {
	echo "== Command"
	echo "ROUNDS=$ROUNDS SECONDS_PER_ROUND=$SECONDS_PER_ROUND SERVICES=$SERVICES WITH_CACHE=$WITH_CACHE WARMUP=$WARMUP SETTLE=$SETTLE SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU BASE_PORT=$BASE_PORT $0${*:+ $*}"
	echo "per round:  taskset -c $CLIENT_CPU dnsperf -s 127.0.0.1 -p PORT -d QUERYFILE ${DNSPERF_OPTS[*]} -l $SECONDS_PER_ROUND"
	echo "servers:    taskset -c $SERVER_CPU BIN -conf COREFILE   (GOMAXPROCS ${GOMAXPROCS:-unset: Go takes 1 from the affinity})"
	echo "query file: $SERVICES names svc-N.$NS.$FED.svc.$ZONE qtype A, in order, cycled; UDP, no EDNS"
	echo "== Machine"
	echo "nproc:      $(nproc)"
	echo "CPU:        $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "kernel:     $(uname -srm)"
	echo "go:         $(go version 2>/dev/null || echo 'not on PATH')"
	echo "dnsperf:    $(dpkg-query -W -f='${Version}' dnsperf 2>/dev/null || echo '?')"
	echo "meridian:   $MERIDIAN_DESC"
	echo "coredns:    $COREDNS_DESC"
	echo "repo:       HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" status --porcelain -- plugin cmd go.mod go.sum 2>/dev/null | grep -q . && echo ', plugin/ cmd/ go.mod or go.sum modified')"
	echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (before the run)"
	echo "idle check: $(idle_check) busy over 2 s before the load (servers idle; above a few % means other work)"
}

# binary describes binary $1: path, version, build time, start of its SHA-256.
binary() {
	echo "$1 ($("$1" -version | head -1), built $(date -u -r "$1" '+%F %T') UTC, sha256 $(sha256sum "$1" | cut -c1-12))"
}

# busy_over prints the busy shares (per mille) of SERVER_CPU and CLIENT_CPU
# over $1 seconds.
busy_over() {
	local s0 c0 s1 c1 e0 d0 e1 d1
	read -r s0 c0 _ < <(cpu_ticks "$SERVER_CPU")
	read -r s1 c1 _ < <(cpu_ticks "$CLIENT_CPU")
	sleep "$1"
	read -r e0 d0 _ < <(cpu_ticks "$SERVER_CPU")
	read -r e1 d1 _ < <(cpu_ticks "$CLIENT_CPU")
	echo $(((e0 - s0) * 1000 / (d0 - c0 > 0 ? d0 - c0 : 1))) $(((e1 - s1) * 1000 / (d1 - c1 > 0 ? d1 - c1 : 1)))
}

idle_check() {
	local a b
	read -r a b < <(busy_over 2)
	echo "CPU$SERVER_CPU $(permille "$a"), CPU$CLIENT_CPU $(permille "$b")"
}

# settle waits up to SETTLE seconds for a second in which both CPUs are
# under 10% busy (the servers are idle between rounds, so anything more is
# other work), and records for round $2 of server $1 the busier CPU's share
# in the last second waited.
settle() {
	local a b deadline=$((SECONDS + SETTLE))
	while :; do
		read -r a b < <(busy_over 1)
		((a > b)) || a=$b
		((a < 100 || SECONDS >= deadline)) && break
	done
	R[$1,$2,pre]=$a
}

# shares_legend explains the CPU columns of both tables.
shares_legend() {
	echo "CPU$SERVER_CPU: busy share of the server's CPU; proc: the server process's share of it; irq: its hard and soft"
	echo "interrupt share (loopback packet work; may overlap proc); rest: CPU$SERVER_CPU - proc - irq, at least 0 (other"
	echo "processes; a lower bound); CPU$CLIENT_CPU: busy share of dnsperf's CPU (dnsperf and anything else on it);"
	echo "before: the busier CPU's share in the last second before the round, servers idle (other work)"
}

print_rounds() {
	local r name
	echo "== Rounds (order within each round: ${SERVERS[*]})"
	shares_legend
	printf '%-5s %-11s %6s %8s %7s %8s %5s %6s %6s %6s %6s %6s  %s\n' round server before QPS 'lat us' sent lost \
		"CPU$SERVER_CPU" proc irq rest "CPU$CLIENT_CPU" 'response codes'
	for ((r = 1; r <= ROUNDS; r++)); do
		for name in "${SERVERS[@]}"; do
			printf '%-5s %-11s %6s %8.0f %7s %8s %5s %6s %6s %6s %6s %6s  %s\n' "$r" "$name" "$(permille "${R[$name,$r,pre]}")" \
				"${R[$name,$r,qps]}" "${R[$name,$r,lat]}" \
				"${R[$name,$r,sent]}" "${R[$name,$r,lost]}" "$(permille "${R[$name,$r,srv]}")" \
				"$(permille "${R[$name,$r,proc]}")" "$(permille "${R[$name,$r,irq]}")" \
				"$(permille "${R[$name,$r,other]}")" "$(permille "${R[$name,$r,cli]}")" "${R[$name,$r,rcodes]}"
		done
	done
}

# column prints field $2 of server $1 over all rounds, one per line.
column() {
	local r
	for ((r = 1; r <= ROUNDS; r++)); do echo "${R[$1,$r,$2]}"; done
}

# median reads numbers, one per line, and prints their median.
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

# summarize prints the medians per server and the ratios of the medians.
summarize() {
	local name
	declare -A MED=()
	echo "== Summary (medians over $ROUNDS rounds of $SECONDS_PER_ROUND s; lost = sum over rounds)"
	printf '%-11s %8s %8s %8s %7s %5s %6s %6s %6s %6s %6s %6s\n' server QPS 'QPS min' 'QPS max' 'lat us' lost \
		"CPU$SERVER_CPU" proc irq rest "CPU$CLIENT_CPU" 'resp B'
	for name in "${SERVERS[@]}"; do
		MED[$name]=$(column "$name" qps | median)
		printf '%-11s %8.0f %8.0f %8.0f %7.0f %5s %6s %6s %6s %6s %6s %6s\n' "$name" "${MED[$name]}" \
			"$(column "$name" qps | sort -g | head -1)" "$(column "$name" qps | sort -g | tail -1)" \
			"$(column "$name" lat | median)" "$(column "$name" lost | awk '{ n += $1 } END { print n }')" \
			"$(permille "$(column "$name" srv | median)")" "$(permille "$(column "$name" proc | median)")" \
			"$(permille "$(column "$name" irq | median)")" "$(permille "$(column "$name" other | median)")" \
			"$(permille "$(column "$name" cli | median)")" "${R[$name,1,size]}"
	done
	echo
	awk -v a="${MED[resolver]}" -v b="${MED[file]}" 'BEGIN { printf "ratio of median QPS, resolver / file:        %.2f\n", a / b }'
	if [[ -n ${MED[file+cache]:-} ]]; then
		awk -v a="${MED[resolver]}" -v b="${MED[file+cache]}" \
			'BEGIN { printf "ratio of median QPS, resolver / file+cache:  %.2f  (context only)\n", a / b }'
	fi
}

main() {
	check_args
	need_tools
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/meridian-bench.XXXXXX")
	generate
	# Described before they start: others may rebuild bin/ during the run.
	MERIDIAN_DESC=$(binary "$MERIDIAN_BIN") COREDNS_DESC=$(binary "$COREDNS_BIN")
	start_server resolver "$BASE_PORT"
	start_server file $((BASE_PORT + 1))
	[[ $WITH_CACHE == 1 ]] && start_server file+cache $((BASE_PORT + 2))
	local name r
	for name in "${SERVERS[@]}"; do await_answer "$name"; done
	facts "$@"
	echo "== Corefiles (no cache, no prometheus, no log on resolver and file; file+cache is context only)"
	for name in "${SERVERS[@]}"; do sed "s|^|  |" "$WORK/Corefile.$name"; done
	echo "== Check: svc-1 A on each server, and all $SERVICES names against their ClusterIPs"
	for name in "${SERVERS[@]}"; do verify "$name"; done
	if ((WARMUP > 0)); then
		for name in "${SERVERS[@]}"; do measure "$name" "$WARMUP" 0; done
	fi
	for ((r = 1; r <= ROUNDS; r++)); do
		for name in "${SERVERS[@]}"; do
			echo "round $r/$ROUNDS: $name..." >&2
			settle "$name" "$r"
			measure "$name" "$SECONDS_PER_ROUND" "$r"
		done
	done
	for name in "${SERVERS[@]}"; do
		kill -0 "${PID[$name]}" 2>/dev/null || die "$name died during the run"
	done
	print_rounds
	summarize
	echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (after the run)"
}

main "$@"

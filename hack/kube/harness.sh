#!/usr/bin/env bash
# harness.sh: real kube-apiserver and etcd processes on 127.0.0.1 for tests.
#
#   harness.sh install                    build kube-apiserver and etcd once into a
#                                         cache outside the clone; print the bin dir
#   harness.sh up N DIR [--port-base P] [--etcd-data D]
#                                         start one etcd and N API servers
#                                         (member-1..member-N) sharing it; write
#                                         DIR/ready; stay in the foreground until
#                                         SIGTERM/SIGINT/SIGHUP or stdin (a pipe) closes;
#                                         --etcd-data keeps etcd's data in D across
#                                         runs (the objects outlive the servers)
#   harness.sh down DIR                   stop what `up` started in DIR
#
# Environment:
#   MERIDIAN_CACHE          cache root (default ~/.cache/meridian)
#   MERIDIAN_KUBE_BIN       use kube-apiserver and etcd from this dir, skip install
#   MERIDIAN_K8S_VERSION    default v1.36.3 (library modules v0.<minor>.<patch>)
#   MERIDIAN_ETCD_VERSION   default v3.6.8
#   MERIDIAN_READY_TIMEOUT  seconds `up` waits for every /readyz (default 180)
#
# See hack/kube/README.md and docs/kube-harness.md.
set -euo pipefail

K8S_VERSION=${MERIDIAN_K8S_VERSION:-v1.36.3}
ETCD_VERSION=${MERIDIAN_ETCD_VERSION:-v3.6.8}
CACHE_ROOT=${MERIDIAN_CACHE:-${HOME}/.cache/meridian}
VERSION_DIR="${CACHE_ROOT}/kube/${K8S_VERSION}-${ETCD_VERSION}"
BIN_DIR="${VERSION_DIR}/bin"
READY_TIMEOUT=${MERIDIAN_READY_TIMEOUT:-180}

log() { echo "harness: $*" >&2; }
die() {
	log "$*"
	exit 1
}
usage() {
	sed -n '3,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# ---------------------------------------------------------------- processes

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
	local stat
	[[ ${1:-} =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ -n "${stat}" ] && [ "${stat:0:1}" != Z ]
}

# write_pid FILE PID: FILE holds PID, replaced in one rename. A pid file is
# polled while its process starts (start.sh --foreground writes its own), and
# a read between a truncation and a write would find no pid: the harness
# once took a starting API server for dead that way.
write_pid() {
	echo "$2" >"$1.$$"
	mv -f "$1.$$" "$1"
}

# proc_has PID TEXT: PID is alive and its command line contains TEXT. Every
# process the harness stops is checked this way first, so a stale pid file
# never makes it signal someone else's process.
proc_has() {
	local cmdline
	proc_alive "$1" || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ ${cmdline} == *"$2"* ]]
}

# stop_pids GRACE PID...: SIGTERM, wait up to GRACE seconds, then SIGKILL.
stop_pids() {
	local grace=$1 pid i left
	shift
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		left=0
		for pid in "$@"; do
			if proc_alive "${pid}"; then left=1; fi
		done
		[ "${left}" = 1 ] || break
		sleep 0.1
	done
	for pid in "$@"; do
		if proc_alive "${pid}"; then
			log "pid ${pid} still running after ${grace} s: SIGKILL"
			kill -KILL "${pid}" 2>/dev/null || true
		fi
	done
	for ((i = 0; i < 50; i++)); do
		left=0
		for pid in "$@"; do
			if proc_alive "${pid}"; then left=1; fi
		done
		[ "${left}" = 1 ] || break
		sleep 0.1
	done
	# Reap the ones that are our children (an error for the others); give
	# whoever reaps the others (init, when up was killed) a moment, so that
	# pgrep no longer lists them as zombies once this returns.
	for pid in "$@"; do
		wait "${pid}" 2>/dev/null || true
	done
	for ((i = 0; i < 30; i++)); do
		left=0
		for pid in "$@"; do
			if [ -e "/proc/${pid}" ]; then left=1; fi
		done
		[ "${left}" = 1 ] || break
		sleep 0.1
	done
}

# stop_all DIR: API servers first (an API server whose etcd is gone hangs at
# shutdown), then etcd. Reads the pid files now, so API servers restarted by
# member-i/start.sh are stopped too.
stop_all() {
	local dir=$1 d pid pids=()
	for d in "${dir}"/member-*/; do
		[ -f "${d}pid" ] || continue
		pid=$(<"${d}pid")
		if proc_has "${pid}" "${d}"; then pids+=("${pid}"); fi
	done
	if [ ${#pids[@]} -gt 0 ]; then
		log "stopping ${#pids[@]} API server(s)"
		stop_pids 10 "${pids[@]}"
	fi
	rm -f "${dir}"/member-*/pid "${dir}"/member-*/restart
	if [ -f "${dir}/etcd/pid" ]; then
		pid=$(<"${dir}/etcd/pid")
		if proc_has "${pid}" "--data-dir=$(cat "${dir}/etcd/data-dir" 2>/dev/null || echo "${dir}/etcd/data")"; then
			log "stopping etcd"
			stop_pids 4 "${pid}"
		fi
		rm -f "${dir}/etcd/pid"
	fi
}

# ---------------------------------------------------------------- install

have_bins() { [ -x "${BIN_DIR}/kube-apiserver" ] && [ -x "${BIN_DIR}/etcd" ]; }

build_etcd() {
	local work=$1 out=$2
	mkdir -p "${work}/etcd"
	printf 'module meridian.local/etcdbuild\n\ngo 1.26\n' >"${work}/etcd/go.mod"
	(
		cd "${work}/etcd"
		go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
		go build -trimpath -ldflags "-s -w" -o "${out}" go.etcd.io/etcd/server/v3
	)
}

build_apiserver() {
	local work=$1 out=$2 lib_version gomod staging m major minor ldflags
	lib_version="v0.${K8S_VERSION#v1.}"
	mkdir -p "${work}/kube"
	gomod=$(cd "${work}/kube" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
	[ -f "${gomod}" ] || die "could not download k8s.io/kubernetes@${K8S_VERSION}"
	# The staging modules are the ones Kubernetes replaces with ./staging/src/...:
	# point each at its published version instead.
	staging=$(sed -n 's|^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*$|\1|p' "${gomod}" | sort -u)
	[ -n "${staging}" ] || die "no staging modules found in ${gomod}"
	{
		printf 'module meridian.local/kubebuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "${K8S_VERSION}"
		for m in ${staging}; do
			printf '\t%s => %s %s\n' "${m}" "${m}" "${lib_version}"
		done
		printf ')\n'
	} >"${work}/kube/go.mod"
	log "kube-apiserver ${K8S_VERSION}: $(wc -w <<<"${staging}") staging modules replaced with ${lib_version}"
	major=${K8S_VERSION#v}
	major=${major%%.*}
	minor=${K8S_VERSION#v*.}
	minor=${minor%%.*}
	m=k8s.io/component-base/version
	# Fixed values only: different flags would recompile everything.
	ldflags="-s -w -X ${m}.gitVersion=${K8S_VERSION} -X ${m}.gitMajor=${major} -X ${m}.gitMinor=${minor}"
	ldflags+=" -X ${m}.gitTreeState=clean -X ${m}.buildDate=1970-01-01T00:00:00Z"
	(
		cd "${work}/kube"
		go build -trimpath -ldflags "${ldflags}" -o "${out}" k8s.io/kubernetes/cmd/kube-apiserver
	)
}

# build_one NAME OUT: build NAME (etcd or kube-apiserver) into OUT in its own
# session, so that a signal to install stops the whole build (go and its
# compilers) and not only this shell.
BUILD_PID=""
build_one() {
	local name=$1 out=$2 start=${SECONDS} version=${K8S_VERSION}
	if [ "${name}" = etcd ]; then version=${ETCD_VERSION}; fi
	log "building ${name} ${version} (from a cold Go cache: minutes)"
	setsid bash "${BASH_SOURCE[0]}" _build "${name}" "${BUILD_WORK}" "${out}" </dev/null >&2 &
	BUILD_PID=$!
	wait "${BUILD_PID}"
	BUILD_PID=""
	"${out}" --version >&2
	log "${name} built in $((SECONDS - start)) s"
}

install_cleanup() {
	local i
	if [ -n "${BUILD_PID}" ]; then
		kill -TERM -- "-${BUILD_PID}" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 -- "-${BUILD_PID}" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-${BUILD_PID}" 2>/dev/null || true
		wait "${BUILD_PID}" 2>/dev/null || true
	fi
	rm -rf "${BUILD_WORK}" "${BIN_DIR}/.etcd.tmp.$$" "${BIN_DIR}/.kube-apiserver.tmp.$$"
}

cmd_install() {
	[ $# -eq 0 ] || usage
	if have_bins; then
		echo "${BIN_DIR}"
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "go is needed to build kube-apiserver and etcd"
	mkdir -p "${BIN_DIR}"
	exec 9>"${VERSION_DIR}/.lock"
	if ! flock -n 9; then
		log "another install is building into ${BIN_DIR}: waiting"
		flock 9
	fi
	if ! have_bins; then
		BUILD_WORK=$(mktemp -d "${TMPDIR:-/tmp}/meridian-kube-build.XXXXXX")
		trap install_cleanup EXIT
		trap 'log "interrupted"; exit 1' TERM INT HUP
		# Build into a temporary name, check it runs, then rename: an interrupted
		# build never leaves a binary that a later run would take as valid.
		local name
		for name in etcd kube-apiserver; do
			[ ! -x "${BIN_DIR}/${name}" ] || continue
			build_one "${name}" "${BIN_DIR}/.${name}.tmp.$$"
			mv -f "${BIN_DIR}/.${name}.tmp.$$" "${BIN_DIR}/${name}"
		done
		install_cleanup
		trap - EXIT TERM INT HUP
	fi
	exec 9>&-
	echo "${BIN_DIR}"
}

# cmd_build NAME WORK OUT: the build itself (internal: run by build_one).
cmd_build() {
	export GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off CGO_ENABLED=0 GOTOOLCHAIN=local
	case $1 in
	etcd) build_etcd "$2" "$3" ;;
	kube-apiserver) build_apiserver "$2" "$3" ;;
	*) usage ;;
	esac
}

# ---------------------------------------------------------------- up

resolve_bins() {
	if [ -n "${MERIDIAN_KUBE_BIN:-}" ]; then
		if [ ! -x "${MERIDIAN_KUBE_BIN}/kube-apiserver" ] || [ ! -x "${MERIDIAN_KUBE_BIN}/etcd" ]; then
			die "MERIDIAN_KUBE_BIN=${MERIDIAN_KUBE_BIN} lacks kube-apiserver or etcd"
		fi
		(cd "${MERIDIAN_KUBE_BIN}" && pwd -P)
	else
		cmd_install | tail -n 1
	fi
}

rand_hex() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

# make_sa_key KEY PUB: one RSA key pair for signing service-account tokens.
make_sa_key() {
	local key=$1 pub=$2 tmp
	if command -v openssl >/dev/null 2>&1; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${key}" 2>/dev/null
		openssl pkey -in "${key}" -pubout -out "${pub}"
	else
		tmp=$(mktemp -d)
		cat >"${tmp}/main.go" <<'GO'
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
)

func main() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(os.Args[1], pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		panic(err)
	}
	if err := os.WriteFile(os.Args[2], pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		panic(err)
	}
}
GO
		(cd "${tmp}" && GOFLAGS="" GOWORK=off go run main.go "${key}" "${pub}")
		rm -rf "${tmp}"
	fi
	chmod 600 "${key}"
}

# pick_ports COUNT [BASE]: COUNT TCP and UDP ports free on this machine. From
# BASE upwards if given, else from a random start in 10000-32767 (below the
# kernel's ephemeral range, wrapping), so concurrent harnesses rarely collide.
pick_ports() {
	local count=$1 base=${2:-} lo hi p tries found=()
	local -A busy=()
	while read -r p; do
		busy[${p}]=1
	done < <({ ss -Htan; ss -Huan; } | awk '{n = split($4, a, ":"); print a[n]}')
	if [ -n "${base}" ]; then
		lo=${base} hi=65535 p=${base}
	else
		lo=10000 hi=32767 p=$((10000 + (RANDOM * 32768 + RANDOM) % 22768))
	fi
	for ((tries = 0; tries <= hi - lo && ${#found[@]} < count; tries++)); do
		if [ -z "${busy[${p}]:-}" ]; then found+=("${p}"); fi
		p=$((p + 1))
		if ((p > hi)); then p=${lo}; fi
	done
	[ ${#found[@]} -eq "${count}" ] || die "found only ${#found[@]} free ports of ${count} in ${lo}-${hi}"
	echo "${found[*]}"
}

# etcd_start PORT PEER_PORT
etcd_start() {
	local e="${UP_DIR}/etcd"
	mkdir -p "${e}"
	echo "$1" >"${e}/port"
	echo "$2" >"${e}/peer-port"
	echo "${ETCD_DATA:-${e}/data}" >"${e}/data-dir"
	local args=(
		"${BIN}/etcd"
		--name=meridian
		--data-dir="${ETCD_DATA:-${e}/data}"
		--listen-client-urls="http://127.0.0.1:$1"
		--advertise-client-urls="http://127.0.0.1:$1"
		--listen-peer-urls="http://127.0.0.1:$2"
		--initial-advertise-peer-urls="http://127.0.0.1:$2"
		--initial-cluster="meridian=http://127.0.0.1:$2"
		--initial-cluster-state=new
		--unsafe-no-fsync
	)
	printf '%s\n' "${args[@]}" >"${e}/cmd"
	setsid "${args[@]}" </dev/null >>"${e}/log" 2>&1 &
	write_pid "${e}/pid" $!
}

# etcd_wait: 0 once healthy, 1 if it exited, dies after 30 s.
etcd_wait() {
	local e="${UP_DIR}/etcd" i
	for ((i = 0; i < 300; i++)); do
		proc_alive "$(<"${e}/pid")" || return 1
		if curl -sf --max-time 2 "http://127.0.0.1:$(<"${e}/port")/health" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	die "etcd not healthy after 30 s; see ${e}/log"
}

# member_write I PORT: member-I/{port,cmd,start.sh}.
member_write() {
	local i=$1 port=$2 m="${UP_DIR}/member-$1"
	mkdir -p "${m}/certs"
	echo "${port}" >"${m}/port"
	local args=(
		"${BIN}/kube-apiserver"
		--bind-address=127.0.0.1
		--advertise-address=127.0.0.1
		--secure-port="${port}"
		--cert-dir="${m}/certs"
		--etcd-servers="http://127.0.0.1:${ETCD_PORT}"
		--etcd-prefix="/member-${i}"
		--service-cluster-ip-range="10.$((100 + i)).0.0/16"
		--service-account-issuer="https://member-${i}.meridian.test"
		--service-account-key-file="${UP_DIR}/sa.pub"
		--service-account-signing-key-file="${UP_DIR}/sa.key"
		--token-auth-file="${UP_DIR}/tokens.csv"
		--authorization-mode=RBAC
		--endpoint-reconciler-type=none
		--disable-admission-plugins=ServiceAccount
		--profiling=false
	)
	printf '%s\n' "${args[@]}" >"${m}/cmd"
	{
		echo '#!/usr/bin/env bash'
		echo "# Starts member-${i}'s kube-apiserver with the flags, data and port that"
		echo "# 'harness.sh up' gave it (written by hack/kube/harness.sh)."
		echo '#   start.sh               start it, wait until /readyz is ok, print its pid'
		echo '#   start.sh --no-wait     start it, print its pid, do not wait'
		echo '#   start.sh --foreground  exec it in the foreground (writes pid first)'
		echo "# While 'harness.sh up' runs, it asks that process to start the server, so"
		echo '# the server is its child: stopped and reaped with the rest.'
		echo 'set -euo pipefail'
		printf 'member_dir=%q\n' "${m}"
		printf 'harness_dir=%q\n' "${UP_DIR}"
		printf 'port=%q\n' "${port}"
		printf 'args=('
		printf ' %q' "${args[@]}"
		printf ' )\n'
		cat <<'BODY'

log() { echo "start.sh: $*" >&2; }
alive() {
	local stat
	[[ ${1:-} =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ -n "${stat}" ] && [ "${stat:0:1}" != Z ]
}
has() {
	local cmdline
	alive "$1" || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ ${cmdline} == *"$2"* ]]
}

mode=${1:-}
case ${mode} in
--foreground)
	# Replaced in one rename, as write_pid does: the harness polls it.
	echo $$ >"${member_dir}/pid.$$"
	mv -f "${member_dir}/pid.$$" "${member_dir}/pid"
	exec "${args[@]}" </dev/null >>"${member_dir}/log" 2>&1
	;;
'' | --no-wait) ;;
*)
	log "usage: start.sh [--no-wait|--foreground]"
	exit 2
	;;
esac

old=$(cat "${member_dir}/pid" 2>/dev/null || true)
if has "${old}" "${member_dir}/"; then
	log "already running (pid ${old})"
	exit 1
fi
hpid=$(cat "${harness_dir}/harness.pid" 2>/dev/null || true)
if has "${hpid}" harness.sh; then
	: >"${member_dir}/restart"
	kill -USR1 "${hpid}"
	pid=
	for ((i = 0; i < 100; i++)); do
		pid=$(cat "${member_dir}/pid" 2>/dev/null || true)
		if [ "${pid}" != "${old}" ] && alive "${pid}"; then break; fi
		pid=
		sleep 0.1
	done
	[ -n "${pid}" ] || {
		log "the harness (pid ${hpid}) did not start the server"
		exit 1
	}
else
	setsid "${args[@]}" </dev/null >>"${member_dir}/log" 2>&1 &
	pid=$!
	echo "${pid}" >"${member_dir}/pid"
fi
if [ "${mode}" = --no-wait ]; then
	echo "${pid}"
	exit 0
fi
token=$(<"${harness_dir}/admin-token")
for ((i = 0; i < 1200; i++)); do
	if ! alive "${pid}"; then
		log "kube-apiserver exited; end of ${member_dir}/log:"
		tail -n 20 "${member_dir}/log" >&2
		exit 1
	fi
	if [ -s "${member_dir}/certs/apiserver.crt" ] &&
		curl -sf --max-time 2 --cacert "${member_dir}/certs/apiserver.crt" \
			-H "Authorization: Bearer ${token}" "https://127.0.0.1:${port}/readyz" >/dev/null 2>&1; then
		echo "${pid}"
		exit 0
	fi
	sleep 0.1
done
log "not ready after 120 s; see ${member_dir}/log"
exit 1
BODY
	} >"${m}/start.sh"
	chmod +x "${m}/start.sh"
}

# member_launch I: start member-I as a child of this shell (pid = $!).
member_launch() {
	local m="${UP_DIR}/member-$1"
	setsid "${m}/start.sh" --foreground </dev/null >>"${m}/log" 2>&1 &
	write_pid "${m}/pid" $!
}

member_ready() {
	local m="${UP_DIR}/member-$1"
	[ -s "${m}/certs/apiserver.crt" ] &&
		curl -sf --max-time 3 --cacert "${m}/certs/apiserver.crt" \
			-H "Authorization: Bearer ${ADMIN_TOKEN}" "https://127.0.0.1:$(<"${m}/port")/readyz" >/dev/null 2>&1
}

# on_usr1: member-i/start.sh asks a running harness to start member-i again.
on_usr1() {
	local d i
	for d in "${UP_DIR}"/member-*/; do
		[ -e "${d}restart" ] || continue
		rm -f "${d}restart"
		i=${d%/}
		i=${i##*/member-}
		if [ -f "${d}pid" ] && proc_has "$(<"${d}pid")" "${d}"; then continue; fi
		member_launch "${i}"
		log "member-${i} started again (pid $(<"${d}pid"))"
	done
}

write_kubeconfig() { # FILE USER TOKEN
	local file=$1 user=$2 token=$3 i m
	{
		echo "apiVersion: v1"
		echo "kind: Config"
		echo "clusters:"
		for ((i = 1; i <= UP_N; i++)); do
			m="${UP_DIR}/member-${i}"
			echo "- name: member-${i}"
			echo "  cluster:"
			echo "    server: https://127.0.0.1:$(<"${m}/port")"
			echo "    certificate-authority-data: $(base64 -w0 "${m}/certs/apiserver.crt")"
		done
		echo "users:"
		echo "- name: ${user}"
		echo "  user:"
		echo "    token: ${token}"
		echo "contexts:"
		for ((i = 1; i <= UP_N; i++)); do
			echo "- name: member-${i}"
			echo "  context:"
			echo "    cluster: member-${i}"
			echo "    user: ${user}"
		done
		echo "current-context: member-1"
	} >"${file}.tmp"
	chmod 600 "${file}.tmp"
	mv -f "${file}.tmp" "${file}"
}

UP_DONE=0
up_exit() {
	local rc=$?
	trap '' TERM INT HUP USR1
	[ "${UP_DONE}" = 0 ] || exit "${rc}"
	UP_DONE=1
	rm -f "${UP_DIR}/ready"
	stop_all "${UP_DIR}"
	if [ -n "${WAITER:-}" ]; then
		kill "${WAITER}" 2>/dev/null || true
		wait "${WAITER}" 2>/dev/null || true
	fi
	rm -f "${UP_DIR}/harness.pid"
	log "stopped (${UP_DIR})"
	exit "${rc}"
}

cmd_up() {
	[ $# -ge 2 ] || usage
	local n=$1 dir=$2 port_base="" i pid ports picked start f
	ETCD_DATA=""
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--port-base)
			[ $# -ge 2 ] || usage
			port_base=$2
			shift 2
			;;
		--port-base=*)
			port_base=${1#*=}
			shift
			;;
		--etcd-data)
			[ $# -ge 2 ] || usage
			ETCD_DATA=$2
			shift 2
			;;
		*) usage ;;
		esac
	done
	if ! [[ ${n} =~ ^[1-9][0-9]*$ ]] || ((n > 150)); then
		die "N must be 1..150 (service ranges are 10.(100+i).0.0/16)"
	fi
	if [ -n "${port_base}" ]; then
		if ! [[ ${port_base} =~ ^[1-9][0-9]*$ ]] || ((port_base < 1024 || port_base > 65535)); then
			die "--port-base must be 1024..65535"
		fi
	fi
	BIN=$(resolve_bins)
	[ -n "${BIN}" ] || die "no binaries"
	if [ -n "${ETCD_DATA}" ]; then
		mkdir -p "${ETCD_DATA}"
		ETCD_DATA=$(cd "${ETCD_DATA}" && pwd -P)
	fi
	mkdir -p "${dir}"
	UP_DIR=$(cd "${dir}" && pwd -P)
	UP_N=${n}

	# Refuse to run twice in one DIR; else clear what an earlier run left.
	pid=$(cat "${UP_DIR}/harness.pid" 2>/dev/null || true)
	if proc_has "${pid}" harness.sh; then die "a harness (pid ${pid}) runs in ${UP_DIR}: harness.sh down ${UP_DIR}"; fi
	for f in "${UP_DIR}"/member-*/pid "${UP_DIR}/etcd/pid"; do
		[ -f "${f}" ] || continue
		if proc_has "$(<"${f}")" "${UP_DIR}/"; then die "processes left in ${UP_DIR}: harness.sh down ${UP_DIR}"; fi
	done
	rm -rf "${UP_DIR}"/member-* "${UP_DIR}/etcd"
	rm -f "${UP_DIR}"/{ready,kubeconfig,test-kubeconfig,admin-token,test-token,tokens.csv,sa.key,sa.pub,harness.pid}

	trap up_exit EXIT
	trap 'log "SIGTERM"; exit 0' TERM
	trap 'log "SIGINT"; exit 0' INT
	trap 'log "SIGHUP"; exit 0' HUP
	trap on_usr1 USR1
	echo $$ >"${UP_DIR}/harness.pid"
	start=${SECONDS}

	umask 077
	ADMIN_TOKEN=$(rand_hex)
	echo "${ADMIN_TOKEN}" >"${UP_DIR}/admin-token"
	rand_hex >"${UP_DIR}/test-token"
	printf '%s,admin,admin,"system:masters"\n%s,meridian-test,meridian-test\n' \
		"${ADMIN_TOKEN}" "$(<"${UP_DIR}/test-token")" >"${UP_DIR}/tokens.csv"
	make_sa_key "${UP_DIR}/sa.key" "${UP_DIR}/sa.pub"
	umask 022

	for ((i = 0; ; i++)); do
		picked=$(pick_ports 2 "${port_base}")
		read -r -a ports <<<"${picked}"
		etcd_start "${ports[0]}" "${ports[1]}"
		if etcd_wait; then break; fi
		if ((i < 3)) && grep -q 'address already in use' "${UP_DIR}/etcd/log"; then
			log "etcd ports ${ports[*]} were taken: trying others"
			port_base=""
			continue
		fi
		tail -n 20 "${UP_DIR}/etcd/log" >&2
		die "etcd exited; see ${UP_DIR}/etcd/log"
	done
	ETCD_PORT=${ports[0]}
	log "etcd ready on 127.0.0.1:${ETCD_PORT} after $((SECONDS - start)) s"

	picked=$(pick_ports "${n}" "${port_base:+$((ports[1] + 1))}")
	read -r -a ports <<<"${picked}"
	for ((i = 1; i <= n; i++)); do
		member_write "${i}" "${ports[i - 1]}"
		member_launch "${i}"
	done

	local pending=() next tries=() deadline=$((SECONDS + READY_TIMEOUT)) m
	for ((i = 1; i <= n; i++)); do
		pending+=("${i}")
		tries[i]=0
	done
	while [ ${#pending[@]} -gt 0 ]; do
		((SECONDS < deadline)) || die "not ready after ${READY_TIMEOUT} s: member(s) ${pending[*]}"
		next=()
		for i in "${pending[@]}"; do
			m="${UP_DIR}/member-${i}"
			if ! proc_alive "$(<"${m}/pid")"; then
				if ((tries[i] < 3)) && grep -q 'address already in use' "${m}/log"; then
					tries[i]=$((tries[i] + 1))
					log "member-${i}: port $(<"${m}/port") was taken: trying another"
					picked=$(pick_ports 1)
					member_write "${i}" "${picked}"
					member_launch "${i}"
					next+=("${i}")
					continue
				fi
				tail -n 20 "${m}/log" >&2
				die "member-${i} exited; see ${m}/log"
			fi
			if member_ready "${i}"; then
				log "member-${i} ready on https://127.0.0.1:$(<"${m}/port") after $((SECONDS - start)) s"
			else
				next+=("${i}")
			fi
		done
		pending=("${next[@]}")
		if [ ${#pending[@]} -gt 0 ]; then sleep 0.2; fi
	done

	write_kubeconfig "${UP_DIR}/kubeconfig" admin "${ADMIN_TOKEN}"
	write_kubeconfig "${UP_DIR}/test-kubeconfig" meridian-test "$(<"${UP_DIR}/test-token")"
	: >"${UP_DIR}/ready"
	log "${n} member(s) ready after $((SECONDS - start)) s: KUBECONFIG=${UP_DIR}/kubeconfig"

	# Stay until a signal, or until stdin closes if it is a pipe or socket (a
	# test that dies then takes the clusters with it). /dev/null or a terminal
	# is not watched. The waiter holds neither stdout nor stderr (a Go test's
	# cmd.Wait waits for those pipes to close) and, if this shell is killed,
	# does not outlive it (tail --pid).
	if [ -p /dev/stdin ] || [ -S /dev/stdin ]; then
		cat <&0 >/dev/null 2>&1 &
	else
		tail --pid=$$ -f /dev/null >/dev/null 2>&1 &
	fi
	WAITER=$!
	while proc_alive "${WAITER}"; do
		wait "${WAITER}" || true
	done
	log "stdin closed"
	exit 0
}

# ---------------------------------------------------------------- down

cmd_down() {
	[ $# -eq 1 ] || usage
	[ -d "$1" ] || die "no such directory: $1"
	local dir pid i
	dir=$(cd "$1" && pwd -P)
	pid=$(cat "${dir}/harness.pid" 2>/dev/null || true)
	if proc_has "${pid}" harness.sh; then
		log "stopping harness pid ${pid}"
		kill -TERM "${pid}" 2>/dev/null || true
		for ((i = 0; i < 200; i++)); do
			proc_alive "${pid}" || break
			sleep 0.1
		done
	fi
	stop_all "${dir}"
	rm -f "${dir}/ready" "${dir}/harness.pid"
}

case "${1:-}" in
install)
	shift
	cmd_install "$@"
	;;
up)
	shift
	cmd_up "$@"
	;;
down)
	shift
	cmd_down "$@"
	;;
_build)
	shift
	[ $# -eq 3 ] || usage
	cmd_build "$@"
	;;
*) usage ;;
esac

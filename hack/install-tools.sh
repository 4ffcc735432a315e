#!/usr/bin/env bash
# install-tools.sh: installs the DNS tools the end-to-end tests drive from
# Debian's packages: dig (dnsutils), kdig (knot-dnsutils), a real caching
# resolver with ECS support (unbound), Zonemaster (zonemaster-cli),
# unshare/ip for private network namespaces (util-linux, iproute2),
# dnsperf and taskset for the benchmarks, and for the operator tooling's
# tests Prometheus with promtool (prometheus) and headless Chromium
# (chromium).
# Arguments COMMAND=PACKAGE add tools (a COMMAND starting with / is a file
# that must exist), as bench/authority/run.sh adds gdnsd and Knot.
# Idempotent: tools already on PATH are not installed again.
set -euo pipefail

declare -A pkg=([dig]=dnsutils [kdig]=knot-dnsutils [unbound]=unbound [unbound-checkconf]=unbound
	[zonemaster-cli]=zonemaster-cli [unshare]=util-linux [ip]=iproute2 [dnsperf]=dnsperf [taskset]=util-linux
	[prometheus]=prometheus [promtool]=prometheus [chromium]=chromium)
for arg in "$@"; do
	pkg[${arg%%=*}]=${arg#*=}
done
missing=()
for tool in "${!pkg[@]}"; do
	case $tool in
	/*) [ -e "$tool" ] || missing+=("${pkg[$tool]}") ;;
	*) command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null 2>&1 ||
		missing+=("${pkg[$tool]}") ;;
	esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-tools: need root (or sudo) to install ${missing[*]}" >&2
		exit 1
	fi
	sudo=sudo
fi
echo "install-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
for try in 1 2 3; do
	if $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		exit 0
	fi
	echo "install-tools: apt-get failed (try $try of 3)" >&2
	sleep $((try * 5))
done
exit 1

#!/usr/bin/env bash
# install-tools.sh: installs the DNS clients the end-to-end tests drive (dig
# from dnsutils, kdig from knot-dnsutils) from Debian's packages. Idempotent:
# tools already on PATH are not installed again.
set -euo pipefail

declare -A pkg=([dig]=dnsutils [kdig]=knot-dnsutils)
missing=()
for tool in "${!pkg[@]}"; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg[$tool]}")
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

#!/usr/bin/env bash
# What the qemu machine driver (tools/docker-machine-driver-qemu, `--driver qemu`) runs on this machine, installed when
# missing: qemu-system-x86_64 (Debian's qemu-system-x86 without its recommends: no GUI, no UEFI firmware, no extra
# block drivers), dnsmasq (dnsmasq-base, the binary alone: the dnsmasq package would also start a system DNS service),
# ip and iptables.
#
#   bash scripts/vm-deps.sh
set -euo pipefail
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "the qemu machine driver needs ${missing[*]}: install them with your package manager (Debian: apt-get install -y --no-install-recommends ${missing[*]}) and run it again" >&2
    exit 1
fi
echo "[vm-deps] installing ${missing[*]} (apt-get)"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

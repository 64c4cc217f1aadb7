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
# shellcheck source=scripts/install-missing.sh
source "$(dirname "${BASH_SOURCE[0]}")/install-missing.sh"
install_missing "the qemu machine driver" ${missing[@]+"${missing[@]}"}

#!/usr/bin/env bash
# What `npm test` needs beyond Node.js and Go, installed when missing (the test script runs this first: not a `pretest`
# hook, which the project's `ignore-scripts` would skip), so that the
# README's test command works on a fresh machine: shellcheck (Debian's package) for the host-script checks, and
# iproute2, iptables and busybox (boot2docker's tools) for the route and kdw-service tests that run host scripts, and
# qemu and dnsmasq for the qemu machine driver's test of real VMs.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v busybox >/dev/null || missing+=(busybox-static)
# The qemu machine driver's test of real VMs (tools/docker-machine-driver-qemu): qemu and the DHCP server it runs.
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
# shellcheck source=scripts/install-missing.sh
source "$(dirname "${BASH_SOURCE[0]}")/install-missing.sh"
install_missing "npm test" ${missing[@]+"${missing[@]}"}

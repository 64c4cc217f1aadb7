#!/usr/bin/env bash
# The boot2docker ISO for virtual machines made by docker-machine: Debian's kernel, and the userland of the boot2docker
# kind of test host (busybox, Docker, sshd... from the Debian base) as its in-memory root, with a VM's early boot
# (network by DHCP, the data disk found or formatted, acpid). Built as root, once per key, into
# ${KDW_CACHE_DIR:-~/.cache/kube-dumb-way}/vm-iso/<key>/boot2docker.iso; a run with nothing changed only prints it.
#
#   scripts/vm-iso.sh          builds the ISO when needed; its path is the last line on stdout
#
# Needs only the Debian archive (the kernel, busybox, openssl and the build's tools come from it by apt-get). See
# scripts/hosts/lib/vm-iso.sh and scripts/hosts/boot2docker-vm/.
set -euo pipefail
umask 022

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/debian-mirror.sh
source "$SCRIPT_DIR/debian-mirror.sh"
# shellcheck source=scripts/hosts/lib/settings.sh
source "$SCRIPT_DIR/hosts/lib/settings.sh"
# shellcheck source=scripts/hosts/lib/helpers.sh
source "$SCRIPT_DIR/hosts/lib/helpers.sh"
# shellcheck source=scripts/hosts/lib/host-image.sh
source "$SCRIPT_DIR/hosts/lib/host-image.sh"
# shellcheck source=scripts/hosts/lib/b2d-image.sh
source "$SCRIPT_DIR/hosts/lib/b2d-image.sh"
# shellcheck source=scripts/hosts/lib/vm-iso.sh
source "$SCRIPT_DIR/hosts/lib/vm-iso.sh"

[ "$(id -u)" -eq 0 ] || die "run as root (the ISO's files keep their owners, and /dev/console is made with mknod)"
start=$(now_us)
ensure_vm_iso
log "ISO $(du -m "$VM_ISO" | cut -f1) MB, ready in $(secs_since "$start")s"
echo "$VM_ISO"

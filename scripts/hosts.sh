#!/usr/bin/env bash
# Local test hosts for kube-dumb-way: N "machines" as privileged containers on a
# private Docker network, each running sshd and Docker, reachable by key. They
# stand in for the machines that docker-machine's `generic` driver provisions
# over SSH. Two kinds: systemd (Debian bookworm, root) and boot2docker (busybox,
# no systemd, state only on a data disk that survives reboots; user docker).
#
#   scripts/hosts.sh up [N] [--boot2docker LIST]
#                              start (or reuse) N hosts (default 6) and the registry; the hosts in LIST (indexes
#                              like 2,5 or 2-4) are of the boot2docker kind, the others systemd (Debian)
#   scripts/hosts.sh reboot I...  reboot hosts as their kind reboots (in parallel) and wait until they answer
#   scripts/hosts.sh replace I... lose hosts for good (container and data disk removed without warning) and put blank
#                              ones of the same kind at their addresses, as a dead VM replaced; waits until they answer
#   scripts/hosts.sh object-store  start (or reuse) the set's S3-compatible object store (versitygw from the
#                              toolchain: run after `npm run toolchain`), for etcd snapshots; writes object-store.json
#   scripts/hosts.sh down      remove hosts, their disks, registry, object store, network; stop dockerd if we started it
#   scripts/hosts.sh status    show what is running
#   scripts/hosts.sh check     prove networking, registry pulls and nested privileged Docker
#
#   KDW_HOSTS_INSTANCE=N       (1-9) a separate set beside the default one: its own network 192.168.(77+N).0/24,
#                              registry, host names kdw-host-N-<i> and state folder state-N; dockerd is shared and
#                              stopped by `down` only when no set is left
#   KDW_HOSTS_CPU_SHARES=N     the hosts' CPU weight against other containers when the cores are busy (docker's
#                              --cpu-shares, default 1024): CI gives the set that runs long throughput work (conformance)
#                              less, so that the suites that measure the API's answers do not measure its load
#
# Writes $KDW_HOSTS_STATE_DIR/hosts.json ([{name, ip, kind, sshUser, sshKeyPath}])
# and registry.json ({address, caCertPath}); `object-store` writes object-store.json ({endpoint, bucket, accessKeyId,
# secretAccessKey, caCertFile}, 0600). See scripts/hosts/README.md.
set -euo pipefail
umask 022

# The work is in scripts/hosts/lib/, one file a concern (see scripts/hosts/README.md); this file reads the
# command line.

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/debian-mirror.sh
source "$SCRIPT_DIR/debian-mirror.sh"
# shellcheck source=scripts/hosts/lib/settings.sh
source "$SCRIPT_DIR/hosts/lib/settings.sh"
# shellcheck source=scripts/hosts/lib/helpers.sh
source "$SCRIPT_DIR/hosts/lib/helpers.sh"
# shellcheck source=scripts/hosts/lib/machine.sh
source "$SCRIPT_DIR/hosts/lib/machine.sh"
# shellcheck source=scripts/hosts/lib/dockerd.sh
source "$SCRIPT_DIR/hosts/lib/dockerd.sh"
# shellcheck source=scripts/hosts/lib/host-image.sh
source "$SCRIPT_DIR/hosts/lib/host-image.sh"
# shellcheck source=scripts/hosts/lib/b2d-image.sh
source "$SCRIPT_DIR/hosts/lib/b2d-image.sh"
# shellcheck source=scripts/hosts/lib/keys.sh
source "$SCRIPT_DIR/hosts/lib/keys.sh"
# shellcheck source=scripts/hosts/lib/registry.sh
source "$SCRIPT_DIR/hosts/lib/registry.sh"
# shellcheck source=scripts/hosts/lib/host-files.sh
source "$SCRIPT_DIR/hosts/lib/host-files.sh"
# shellcheck source=scripts/hosts/lib/kinds.sh
source "$SCRIPT_DIR/hosts/lib/kinds.sh"
# shellcheck source=scripts/hosts/lib/lifecycle.sh
source "$SCRIPT_DIR/hosts/lib/lifecycle.sh"
# shellcheck source=scripts/hosts/lib/report.sh
source "$SCRIPT_DIR/hosts/lib/report.sh"
# shellcheck source=scripts/hosts/lib/object-store.sh
source "$SCRIPT_DIR/hosts/lib/object-store.sh"
# shellcheck source=scripts/hosts/lib/commands.sh
source "$SCRIPT_DIR/hosts/lib/commands.sh"

case "${1:-}" in
up)
	shift
	cmd_up "$@"
	;;
reboot)
	shift
	cmd_reboot "$@"
	;;
replace)
	shift
	cmd_replace "$@"
	;;
object-store) cmd_object_store ;;
down) cmd_down ;;
status) cmd_status ;;
check) cmd_check ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
	exit 2
	;;
esac

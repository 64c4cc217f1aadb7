# shellcheck shell=bash disable=SC2034 # every setting is read by the other files here
# The settings every file here reads, sourced first by scripts/hosts.sh: the versions and package list that key the
# images, and one set's names, addresses, folders and labels (from KDW_HOSTS_INSTANCE, KDW_HOSTS_STATE_DIR,
# KDW_HOSTS_NET_PREFIX and KDW_CACHE_DIR). In one place so that every concern agrees on them.

readonly HOSTS_VERSION=1 # bump when the host image's overlay changes in host-image.sh (overlay_tar)
readonly BASE_VERSION=1  # bump when build_base_rootfs changes
readonly B2D_VERSION=2   # bump when build_b2d_rootfs changes
readonly SUITE=bookworm
readonly PACKAGES=systemd,systemd-sysv,openssh-server,iproute2,iptables,ca-certificates,sudo,conntrack,socat,dbus,iputils-ping,procps,kmod,docker.io,curl,ipset,ethtool

readonly FILES_DIR="$SCRIPT_DIR/hosts"
readonly CACHE_DIR="${KDW_CACHE_DIR:-$HOME/.cache/kube-dumb-way}/hosts"
readonly INSTANCE="${KDW_HOSTS_INSTANCE:-}"
[[ "$INSTANCE" =~ ^[1-9]?$ ]] || { echo "[hosts] error: KDW_HOSTS_INSTANCE must be empty or 1-9 (got '$INSTANCE')" >&2; exit 1; }
readonly SFX="${INSTANCE:+-$INSTANCE}"
readonly STATE_DIR="${KDW_HOSTS_STATE_DIR:-$CACHE_DIR/state$SFX}"
# One dockerd serves every set of hosts.
readonly DOCKERD_DIR="$CACHE_DIR/state/dockerd"
readonly SSH_KEY="$STATE_DIR/ssh/id_ed25519"
readonly PKI_DIR="$STATE_DIR/pki"

readonly NET_NAME="kdw-test$SFX"
readonly NET_PREFIX="${KDW_HOSTS_NET_PREFIX:-192.168.$((77 + ${INSTANCE:-0}))}"
readonly SUBNET="$NET_PREFIX.0/24"
readonly BRIDGE="kdw-test${INSTANCE:-0}"
readonly REGISTRY_NAME="kdw-registry$SFX"
readonly REGISTRY_IP="$NET_PREFIX.2"
readonly REGISTRY_ADDR="$REGISTRY_IP:5000"
readonly HOST_PREFIX="kdw-host$SFX-"
readonly HOST_IP_OFFSET=10
readonly LABEL=io.kube-dumb-way.test-hosts
readonly KIND_LABEL=io.kube-dumb-way.test-hosts.kind
readonly SET_LABEL="io.kube-dumb-way.test-hosts.set=${INSTANCE:-0}"
readonly RUNTIME=kdw-runc
readonly BOOT_TIMEOUT=180
readonly CPU_SHARES="${KDW_HOSTS_CPU_SHARES:-1024}"
if ! [[ "$CPU_SHARES" =~ ^[0-9]{1,6}$ ]] || [ "$CPU_SHARES" -lt 2 ] || [ "$CPU_SHARES" -gt 262144 ]; then
	echo "[hosts] error: KDW_HOSTS_CPU_SHARES must be a whole number from 2 to 262144 (got '$CPU_SHARES')" >&2
	exit 1
fi

SSH_OPTS=(-i "$SSH_KEY" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR -o ConnectTimeout=5)

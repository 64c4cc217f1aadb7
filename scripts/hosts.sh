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
#   scripts/hosts.sh down      remove hosts, their disks, registry, network; stop dockerd if we started it
#   scripts/hosts.sh status    show what is running
#   scripts/hosts.sh check     prove networking, registry pulls and nested privileged Docker
#
#   KDW_HOSTS_INSTANCE=N       (1-9) a separate set beside the default one: its own network 192.168.(77+N).0/24,
#                              registry, host names kdw-host-N-<i> and state folder state-N; dockerd is shared and
#                              stopped by `down` only when no set is left
#
# Writes $KDW_HOSTS_STATE_DIR/hosts.json ([{name, ip, kind, sshUser, sshKeyPath}])
# and registry.json ({address, caCertPath}). See scripts/hosts/README.md.
set -euo pipefail
umask 022

readonly HOSTS_VERSION=1 # bump when the host image's overlay changes in hosts.sh
readonly BASE_VERSION=1  # bump when build_base_rootfs changes
readonly B2D_VERSION=2   # bump when build_b2d_rootfs changes
readonly SUITE=bookworm
readonly PACKAGES=systemd,systemd-sysv,openssh-server,iproute2,iptables,ca-certificates,sudo,conntrack,socat,dbus,iputils-ping,procps,kmod,docker.io,curl,ipset,ethtool

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/debian-mirror.sh
source "$SCRIPT_DIR/debian-mirror.sh"
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

SSH_OPTS=(-i "$SSH_KEY" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR -o ConnectTimeout=5)

# ---------------------------------------------------------------- helpers

log() { printf '[hosts] %s\n' "$*" >&2; }
die() {
	printf '[hosts] error: %s\n' "$*" >&2
	exit 1
}

now_us() { echo "${EPOCHREALTIME/./}"; }
secs_since() { # secs_since START_US -> "12.3"
	local d=$(($(now_us) - $1))
	printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}

PHASE_TIMES=()
phase() { # phase NAME COMMAND...: run a step and remember how long it took
	local name=$1 start
	shift
	start=$(now_us)
	log "$name..."
	"$@"
	PHASE_TIMES+=("$(printf '  %-30s %7ss' "$name" "$(secs_since "$start")")")
}
print_phase_times() {
	printf 'Phase times:\n'
	printf '%s\n' "${PHASE_TIMES[@]}"
}

host_name() { echo "$HOST_PREFIX$1"; }
host_ip() { echo "$NET_PREFIX.$((HOST_IP_OFFSET + $1))"; }
json_str() { # a JSON string literal for a value without control characters
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

docker_up() { timeout 20 docker info >/dev/null 2>&1; }
container_state() { # running, exited, created... or absent
	local state
	state=$(docker inspect -f '{{.State.Status}}' "$1" 2>/dev/null) || state=""
	echo "${state:-absent}"
}
host_ssh() { # host_ssh USER@IP COMMAND...
	local login=$1
	shift
	# shellcheck disable=SC2029 # the command is meant to be expanded here
	ssh "${SSH_OPTS[@]}" "$login" "$@"
}

# ---------------------------------------------------------------- packages

need_packages() { # installs the Debian packages whose commands are missing
	local -A pkg_of=([dockerd]=docker.io [debootstrap]=debootstrap [ssh]=openssh-client
		[ssh-keygen]=openssh-client [ip]=iproute2 [iptables]=iptables [openssl]=openssl
		[curl]=curl [runc]=runc)
	local cmd missing=()
	for cmd in "${!pkg_of[@]}"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	log "installing ${missing[*]}"
	# Keep package scripts from starting services (docker.io would start its
	# own dockerd through its init script): this script starts dockerd itself.
	local made_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	local rc=0
	{
		apt-get update -q -o DPkg::Lock::Timeout=600 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
				-o DPkg::Lock::Timeout=600 "${missing[@]}"
	} >"$STATE_DIR/apt.log" 2>&1 || rc=$?
	[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
	[ "$rc" -eq 0 ] || die "apt-get failed (rc=$rc), see $STATE_DIR/apt.log"
}

# ---------------------------------------------------------------- kernel limits

# Every host's kubelet, containerd and systemd take inotify instances from the one kernel all hosts share; the
# defaults (128 instances per user) run out at about 3+9 hosts ("inotify_init: too many open files"). kind's
# documentation gives the same advice for multi-node clusters. Raised only, never lowered.
raise_inotify_limits() {
	local key want have
	for key in fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=1048576; do
		want=${key#*=}
		have=$(sysctl -n "${key%=*}")
		if [ "$have" -lt "$want" ]; then
			sysctl -qw "$key"
			log "raised ${key%=*} from $have to $want"
		fi
	done
}

# ---------------------------------------------------------------- disk space

# The hosts' kubelets share this machine's disk and evict pods when it is nearly full (the test stacks' thresholds:
# kubeletEvictionHard in test/e2e/stackConfig.ts). Too little space shows much later as pods that vanish mid-test, so
# it is refused here, with the way out.
readonly MIN_FREE_GIB=20
check_disk_space() {
	local root free
	root=$(docker info --format '{{.DockerRootDir}}')
	free=$(($(df --output=avail -k "$root" | tail -1) / 1024 / 1024))
	[ "$free" -ge "$MIN_FREE_GIB" ] || die "only $free GiB free under $root, $MIN_FREE_GIB needed: the hosts' kubelets" \
		"would evict pods. Free disk space first (other sets of test hosts: KDW_HOSTS_INSTANCE=N bash scripts/hosts.sh down)"
	log "$free GiB free under $root"
}

# ---------------------------------------------------------------- dockerd

ours_dockerd_pid() { # prints the pid of the dockerd this script started, if it runs
	local pid
	pid=$(cat "$DOCKERD_DIR/dockerd.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

ensure_dockerd() {
	mkdir -p "$DOCKERD_DIR"
	if docker_up; then
		docker info --format '{{json .Runtimes}}' | grep -q "\"$RUNTIME\"" ||
			die "a Docker daemon runs without the '$RUNTIME' runtime; add to its daemon.json:
  \"runtimes\": {\"$RUNTIME\": {\"path\": \"$FILES_DIR/kdw-runc\"}}  (then restart it), or stop it"
		log "using the running Docker daemon"
		return 0
	fi
	install -m 0755 "$FILES_DIR/kdw-runc" "$DOCKERD_DIR/kdw-runc"
	cat >"$DOCKERD_DIR/daemon.json" <<-EOF
		{
		  "runtimes": { "$RUNTIME": { "path": "$DOCKERD_DIR/kdw-runc" } },
		  "default-runtime": "$RUNTIME",
		  "log-opts": { "max-size": "10m", "max-file": "2" }
		}
	EOF
	cat /proc/sys/net/ipv4/ip_forward >"$DOCKERD_DIR/ip_forward.before"
	iptables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p' >"$DOCKERD_DIR/forward_policy.before" || true
	log "starting dockerd (log: $DOCKERD_DIR/dockerd.log)"
	setsid dockerd --config-file "$DOCKERD_DIR/daemon.json" --pidfile "$DOCKERD_DIR/dockerd.pid" \
		</dev/null >>"$DOCKERD_DIR/dockerd.log" 2>&1 &
	local i
	for i in $(seq 1 120); do
		docker_up && return 0
		sleep 0.5
		[ "$i" -lt 20 ] || kill -0 $! 2>/dev/null || die "dockerd exited, see $DOCKERD_DIR/dockerd.log"
	done
	die "dockerd did not answer within 60 s, see $DOCKERD_DIR/dockerd.log"
}

# Undo what our dockerd left in the machine's network settings.
clean_docker_netfilter() {
	local table line
	for table in filter nat; do
		iptables -t "$table" -S 2>/dev/null | grep -E "^-A .*(DOCKER|docker0|$BRIDGE)" | while read -r line; do
			# shellcheck disable=SC2086 # the rule is a list of words
			iptables -t "$table" -D ${line#-A } 2>/dev/null || true
		done
		iptables -t "$table" -S 2>/dev/null | sed -n 's/^-N \(DOCKER.*\)/\1/p' | while read -r line; do
			iptables -t "$table" -F "$line" 2>/dev/null || true
			iptables -t "$table" -X "$line" 2>/dev/null || true
		done
	done
	local policy
	policy=$(cat "$DOCKERD_DIR/forward_policy.before" 2>/dev/null || true)
	[ -z "$policy" ] || iptables -P FORWARD "$policy" || true
	if [ -f "$DOCKERD_DIR/ip_forward.before" ]; then
		cat "$DOCKERD_DIR/ip_forward.before" >/proc/sys/net/ipv4/ip_forward || true
	fi
}

stop_our_dockerd() {
	local pid
	pid=$(ours_dockerd_pid) || {
		rm -f "$DOCKERD_DIR/dockerd.pid"
		return 0
	}
	log "stopping dockerd (pid $pid)"
	kill -TERM "$pid"
	local i
	for i in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "dockerd did not stop in 30 s; killing pid $pid"
		kill -KILL "$pid" || true
	fi
	rm -f "$DOCKERD_DIR/dockerd.pid"
	ip link show docker0 >/dev/null 2>&1 && ip link delete docker0
	clean_docker_netfilter
}

# ---------------------------------------------------------------- rootfs image

base_key() { # the debootstrap result depends on these only
	echo "$BASE_VERSION $SUITE $PACKAGES" | sha256sum | cut -c1-12
}

image_key() { # changes whenever anything that goes into the host image changes
	{
		echo "$HOSTS_VERSION $(base_key)"
		(cd "$FILES_DIR" && find kdw-runc rootfs -type f -print0 | sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-12
}

unmount_under() { # unmounts everything below a directory, deepest first
	local dir mnt
	dir=$(realpath "$1")
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mnt; do
		umount -l "$mnt" || true
	done
}

# The base: a plain debootstrap with the host packages, made anonymous (no
# SSH host keys, empty machine-id) and small (no apt lists or .debs).
build_base_rootfs() { # build_base_rootfs TARFILE
	local tarfile=$1 dir mirror
	mirror=$(debian_mirror)
	dir=$(mktemp -d "$CACHE_DIR/rootfs-build.XXXXXX")
	log "debootstrap $SUITE from $mirror into $dir (log: $CACHE_DIR/debootstrap.log)"
	if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$mirror" \
		>"$CACHE_DIR/debootstrap.log" 2>&1; then
		unmount_under "$dir"
		rm -rf --one-file-system "$dir"
		die "debootstrap failed, see $CACHE_DIR/debootstrap.log"
	fi
	unmount_under "$dir"
	rm -f "$dir"/etc/ssh/ssh_host_*
	: >"$dir/etc/machine-id"
	rm -f "$dir/var/lib/dbus/machine-id"
	ln -s /etc/machine-id "$dir/var/lib/dbus/machine-id"
	install -d -m 0700 "$dir/root/.ssh"
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log
	tar -C "$dir" --numeric-owner -cf "$tarfile.tmp" .
	mv "$tarfile.tmp" "$tarfile"
	rm -rf --one-file-system "$dir"
}

# The overlay on the base, as a tar stream: the runtime wrapper, Docker's
# daemon.json, first-boot units, sshd and journald settings, masked units.
overlay_tar() {
	local stage
	stage=$(mktemp -d)
	cp -a "$FILES_DIR/rootfs/." "$stage/"
	install -d -m 0755 "$stage/usr" "$stage/usr/local" "$stage/usr/local/bin" "$stage/usr/bin"
	install -m 0755 "$FILES_DIR/kdw-runc" "$stage/usr/local/bin/kdw-runc"
	# docker-machine's systemd drop-in runs /usr/bin/dockerd; Debian installs /usr/sbin/dockerd.
	ln -s /usr/sbin/dockerd "$stage/usr/bin/dockerd"
	local sys="$stage/etc/systemd/system" unit
	for unit in kdw-ssh-keygen.service:multi-user.target kdw-ssh-keygen.service:ssh.service \
		kdw-make-rshared.service:sysinit.target kdw-keep-hostname.service:sysinit.target \
		kdw-save-hostname.path:multi-user.target; do
		mkdir -p "$sys/${unit#*:}.wants"
		ln -s "../${unit%%:*}" "$sys/${unit#*:}.wants/${unit%%:*}"
	done
	# Units that have nothing to do in a container.
	for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
		systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
		sys-kernel-debug.mount sys-kernel-tracing.mount getty@tty1.service console-getty.service \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer; do
		ln -s /dev/null "$sys/$unit"
	done
	chmod -R go-w "$stage"
	tar -C "$stage" --numeric-owner --owner=0 --group=0 -c .
	rm -rf "$stage"
}

BASE_IMAGE=""
ensure_base_image() { # the debootstrap result as an image, built or imported once
	BASE_IMAGE="kdw-host-base:$(base_key)"
	docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
	local tarfile
	tarfile="$CACHE_DIR/rootfs-$(base_key).tar"
	if [ -f "$tarfile" ]; then
		log "rootfs $tarfile cached"
	else
		phase "build rootfs (debootstrap)" build_base_rootfs "$tarfile"
	fi
	docker import --change "LABEL $LABEL=image" "$tarfile" "$BASE_IMAGE" >/dev/null
	# Older rootfs tarballs are of no further use.
	find "$CACHE_DIR" -maxdepth 1 -name 'rootfs-*.tar' ! -name "$(basename "$tarfile")" -delete
}

HOST_IMAGE=""
ensure_host_image() {
	local key
	key=$(image_key)
	HOST_IMAGE="kdw-host:$key"
	ensure_base_image
	if docker image inspect "$HOST_IMAGE" >/dev/null 2>&1; then
		log "image $HOST_IMAGE present"
		return 0
	fi
	local tmp
	tmp=$(docker create "$BASE_IMAGE" /sbin/init)
	overlay_tar | docker cp - "$tmp:/"
	docker commit --change 'CMD ["/sbin/init"]' --change 'ENV container=docker' \
		--change "LABEL $LABEL=image" "$tmp" "$HOST_IMAGE" >/dev/null
	docker rm "$tmp" >/dev/null
	# Images of earlier keys are of no further use (those still used by a host stay).
	local old
	for old in $(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^kdw-host(-base)?:'); do
		[ "$old" = "$HOST_IMAGE" ] || [ "$old" = "$BASE_IMAGE" ] || docker rmi "$old" >/dev/null 2>&1 || true
	done
}

# ---------------------------------------------------------------- the boot2docker kind

# Debian packages the base lacks, for the boot2docker kind: busybox (the userland) and openssl (dockerd's first TLS).
# Debian's busybox, not busybox-static: the static build's shell runs its own applets before the PATH's programs (its
# `ip` before iproute2's), which no boot2docker does.
b2d_debs() { # prints the folder holding the unpacked packages
	local dir="$CACHE_DIR/b2d-debs" pkg deb
	mkdir -p "$dir"
	for pkg in busybox openssl; do
		deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n1)
		if [ -z "$deb" ]; then
			(cd "$dir" && apt-get download -q "$pkg" >>"$dir/download.log" 2>&1) ||
				(apt-get update -q >/dev/null 2>&1 && cd "$dir" && apt-get download -q "$pkg" >>"$dir/download.log" 2>&1) ||
				die "could not download $pkg, see $dir/download.log"
			deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n1)
		fi
		[ -d "$dir/x/$pkg" ] || { mkdir -p "$dir/x/$pkg" && dpkg-deb -x "$deb" "$dir/x/$pkg"; }
	done
	echo "$dir/x"
}

b2d_image_key() {
	{
		echo "$B2D_VERSION $(base_key)"
		(cd "$CACHE_DIR/b2d-debs" && find . -maxdepth 1 -name '*.deb' | sort)
		(cd "$FILES_DIR" && find kdw-runc boot2docker -type f -print0 | sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-12
}

# The boot2docker kind's root filesystem, made as boot2docker is made: busybox for /bin/sh and the usual tools, and
# beside it, as Tiny Core extensions in /usr/local, the programs boot2docker ships (Docker, containerd, runc, sshd,
# sudo, iptables in legacy mode, iproute2's ip, curl, openssl), taken from the Debian base with its libraries.
# No bash, no systemd, no coreutils.
build_b2d_rootfs() { # build_b2d_rootfs TARFILE DEBS_DIR
	local tarfile=$1 debs=$2 work src root c
	work=$(mktemp -d "$CACHE_DIR/b2d-build.XXXXXX")
	# shellcheck disable=SC2064 # the folder is meant to be fixed now
	trap "rm -rf '$work' '$tarfile.tmp'" EXIT
	src="$work/src"
	root="$work/root"
	mkdir -p "$src" "$root"
	c=$(docker create "$BASE_IMAGE" /bin/true)
	docker export "$c" | tar -C "$src" -x
	docker rm "$c" >/dev/null

	local dir
	for dir in bin sbin usr/bin usr/sbin usr/lib usr/lib64 usr/local/bin usr/local/sbin usr/local/libexec \
		usr/libexec etc/ssl/certs usr/lib/ssl proc sys dev run var/lib var/log mnt/sda1 home root; do
		mkdir -p "$root/$dir"
	done
	chmod 0700 "$root/root"
	install -d -m 1777 "$root/tmp"
	ln -s ../run "$root/var/run"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"

	# busybox and its applets: /bin/sh, init, mount, grep, sed, awk, tar, ...
	install -m 0755 "$debs/busybox/bin/busybox" "$root/bin/busybox"
	local applet
	for applet in $("$root/bin/busybox" --list-full); do
		[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done

	# The C library and every shared library of the base (PAM and NSS modules, iptables extensions included).
	tar -C "$src" --exclude='usr/lib/x86_64-linux-gnu/perl*' --exclude='usr/lib/x86_64-linux-gnu/gconv' \
		--exclude='usr/lib/x86_64-linux-gnu/systemd' \
		-c usr/lib/x86_64-linux-gnu usr/lib64 etc/ld.so.cache etc/ld.so.conf etc/ld.so.conf.d | tar -C "$root" -x

	take() { # take SRC-PATH DEST-PATH [MODE]: a program of the base, following links
		[ -e "$src/$1" ] || die "boot2docker kind: /$1 is not in the base image"
		install -m "${3:-0755}" "$src/$1" "$root/$2"
	}
	take usr/sbin/dockerd usr/local/bin/dockerd
	take usr/bin/docker usr/local/bin/docker
	take usr/sbin/docker-proxy usr/local/bin/docker-proxy
	take usr/bin/tini-static usr/local/bin/docker-init
	take usr/bin/containerd usr/local/bin/containerd
	take usr/bin/containerd-shim-runc-v2 usr/local/bin/containerd-shim-runc-v2
	take usr/bin/ctr usr/local/bin/ctr
	take usr/sbin/runc usr/local/bin/runc
	take usr/sbin/sshd usr/local/sbin/sshd
	take usr/bin/ssh-keygen usr/local/bin/ssh-keygen
	take usr/lib/openssh/sftp-server usr/local/libexec/sftp-server
	take usr/bin/curl usr/local/bin/curl
	take usr/bin/ip usr/local/sbin/ip
	take usr/sbin/xtables-legacy-multi usr/local/sbin/xtables-legacy-multi
	local tool
	for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
		ln -s xtables-legacy-multi "$root/usr/local/sbin/$tool"
	done
	take usr/bin/sudo usr/local/bin/sudo 4755
	cp -a "$src/usr/libexec/sudo" "$root/usr/libexec/"
	cp -a "$src/etc/pam.d" "$src/etc/security" "$root/etc/"
	install -m 0755 "$debs/openssl/usr/bin/openssl" "$root/usr/local/bin/openssl"
	install -m 0644 "$debs/openssl/etc/ssl/openssl.cnf" "$root/etc/ssl/openssl.cnf"
	ln -s /etc/ssl/openssl.cnf "$root/usr/lib/ssl/openssl.cnf"
	install -m 0644 "$src/etc/ssl/certs/ca-certificates.crt" "$root/etc/ssl/certs/ca-certificates.dist.crt"
	local file
	for file in protocols services ethertypes; do
		[ ! -f "$src/etc/$file" ] || install -m 0644 "$src/etc/$file" "$root/etc/$file"
	done
	install -m 0755 "$FILES_DIR/kdw-runc" "$root/usr/local/bin/kdw-runc"

	cp -a "$FILES_DIR/boot2docker/rootfs/." "$root/"
	chmod 0440 "$root/etc/sudoers"
	chmod 0600 "$root/etc/shadow"
	chown -R 1000:50 "$root/home/docker"
	chmod 0700 "$root/home/docker/.ssh"
	if find "$root" -name bash -o -name systemd -o -name 'coreutils' | grep -q .; then
		die "boot2docker kind: bash, systemd or coreutils got into the image"
	fi
	local found
	found=$(chroot "$root" /bin/sh -c 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; command -v ip')
	[ "$found" = /usr/local/sbin/ip ] || die "boot2docker kind: the shell finds ip at '$found', not iproute2's in /usr/local/sbin"
	tar -C "$root" --numeric-owner -cf "$tarfile.tmp" .
	mv "$tarfile.tmp" "$tarfile"
	rm -rf "$work"
	trap - EXIT
}

B2D_IMAGE=""
ensure_b2d_image() {
	local debs key tarfile
	ensure_base_image
	debs=$(b2d_debs)
	key=$(b2d_image_key)
	B2D_IMAGE="kdw-b2d:$key"
	if docker image inspect "$B2D_IMAGE" >/dev/null 2>&1; then
		log "image $B2D_IMAGE present"
		return 0
	fi
	tarfile="$CACHE_DIR/b2d-rootfs-$key.tar"
	phase "build boot2docker rootfs" build_b2d_rootfs "$tarfile" "$debs"
	docker import --change 'CMD ["/sbin/init"]' --change "LABEL $LABEL=image" "$tarfile" "$B2D_IMAGE" >/dev/null
	rm -f "$tarfile"
	local old
	for old in $(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^kdw-b2d:'); do
		[ "$old" = "$B2D_IMAGE" ] || docker rmi "$old" >/dev/null 2>&1 || true
	done
}

# ---------------------------------------------------------------- keys and certificates

ensure_ssh_key() {
	[ -f "$SSH_KEY" ] && [ -f "$SSH_KEY.pub" ] && return 0
	mkdir -p "$(dirname "$SSH_KEY")"
	chmod 0700 "$(dirname "$SSH_KEY")"
	rm -f "$SSH_KEY" "$SSH_KEY.pub"
	ssh-keygen -q -t ed25519 -N '' -C kdw-test-hosts -f "$SSH_KEY"
}

ensure_pki() {
	mkdir -p "$PKI_DIR"
	chmod 0700 "$PKI_DIR"
	if [ ! -f "$PKI_DIR/ca.crt" ] || [ ! -f "$PKI_DIR/ca.key" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
			-subj "/CN=kube-dumb-way test hosts CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
			-keyout "$PKI_DIR/ca.key" -out "$PKI_DIR/ca.crt" 2>/dev/null
		rm -f "$PKI_DIR/registry.crt"
	fi
	if [ -f "$PKI_DIR/registry.crt" ] &&
		openssl x509 -in "$PKI_DIR/registry.crt" -noout -ext subjectAltName 2>/dev/null |
		grep -q "IP Address:$REGISTRY_IP\$" &&
		openssl x509 -in "$PKI_DIR/registry.crt" -noout -checkend 86400 >/dev/null; then
		return 0
	fi
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$REGISTRY_NAME" \
		-keyout "$PKI_DIR/registry.key" -out "$PKI_DIR/registry.csr" 2>/dev/null
	printf '%s\n' "subjectAltName=IP:$REGISTRY_IP,DNS:$REGISTRY_NAME,DNS:localhost,IP:127.0.0.1" \
		"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" >"$PKI_DIR/registry.ext"
	openssl x509 -req -in "$PKI_DIR/registry.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
		-CAcreateserial -days 825 -extfile "$PKI_DIR/registry.ext" -out "$PKI_DIR/registry.crt" 2>/dev/null
	chmod 0644 "$PKI_DIR/registry.crt" "$PKI_DIR/registry.key"
}

ensure_keys() {
	ensure_ssh_key
	ensure_pki
}

# ---------------------------------------------------------------- network and registry

ensure_network() {
	if docker network inspect "$NET_NAME" >/dev/null 2>&1; then
		return 0
	fi
	local route
	route=$(ip route show | grep -F "$NET_PREFIX." || true)
	[ -z "$route" ] || die "$SUBNET collides with a route of this machine ($route); set KDW_HOSTS_NET_PREFIX"
	docker network create --driver bridge --subnet "$SUBNET" --gateway "$NET_PREFIX.1" \
		-o com.docker.network.bridge.name="$BRIDGE" --label "$LABEL=network" "$NET_NAME" >/dev/null
}

REGISTRY_IMAGE=""
ensure_registry_image() { # Debian's docker-registry binary and the libraries it links, nothing else
	local deb_dir="$CACHE_DIR/registry-deb" stage bin lib
	mkdir -p "$deb_dir"
	local deb
	deb=$(find "$deb_dir" -maxdepth 1 -name 'docker-registry_*.deb' | sort | tail -n1)
	if [ -z "$deb" ]; then
		(cd "$deb_dir" && apt-get download -q docker-registry >"$deb_dir/download.log" 2>&1) ||
			(apt-get update -q >/dev/null 2>&1 && cd "$deb_dir" && apt-get download -q docker-registry >>"$deb_dir/download.log" 2>&1) ||
			die "could not download docker-registry, see $deb_dir/download.log"
		deb=$(find "$deb_dir" -maxdepth 1 -name 'docker-registry_*.deb' | sort | tail -n1)
	fi
	REGISTRY_IMAGE="kdw-registry:$(basename "$deb" .deb | cut -d_ -f2 | tr '+~:' '---')"
	docker image inspect "$REGISTRY_IMAGE" >/dev/null 2>&1 && return 0
	stage=$(mktemp -d)
	dpkg-deb -x "$deb" "$stage/deb"
	mkdir -p "$stage/root/usr/bin" "$stage/root/etc/docker/registry" "$stage/root/var/lib/registry" \
		"$stage/root/tmp" "$stage/root/certs"
	bin="$stage/root/usr/bin/docker-registry"
	cp "$stage/deb/usr/bin/docker-registry" "$bin"
	cp "$FILES_DIR/registry.yml" "$stage/root/etc/docker/registry/config.yml"
	for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do
		mkdir -p "$stage/root$(dirname "$lib")"
		cp -L "$lib" "$stage/root$lib"
	done
	tar -C "$stage/root" --numeric-owner -c . | docker import \
		--change 'ENTRYPOINT ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]' \
		--change "LABEL $LABEL=image" - "$REGISTRY_IMAGE" >/dev/null
	rm -rf "$stage"
}

ensure_registry() {
	ensure_registry_image
	case "$(container_state "$REGISTRY_NAME")" in
	running) ;;
	absent)
		mkdir -p "$CACHE_DIR/registry-data$SFX"
		docker run -d --name "$REGISTRY_NAME" --hostname "$REGISTRY_NAME" --network "$NET_NAME" \
			--ip "$REGISTRY_IP" --restart unless-stopped --label "$LABEL=registry" --label "$SET_LABEL" \
			-v "$CACHE_DIR/registry-data$SFX:/var/lib/registry" -v "$PKI_DIR:/certs:ro" \
			"$REGISTRY_IMAGE" >/dev/null
		;;
	*) docker start "$REGISTRY_NAME" >/dev/null ;;
	esac
	# The machine's Docker trusts the registry through certs.d (read on every pull/push).
	mkdir -p "/etc/docker/certs.d/$REGISTRY_ADDR"
	cp "$PKI_DIR/ca.crt" "/etc/docker/certs.d/$REGISTRY_ADDR/ca.crt"
	local i
	for i in $(seq 1 40); do
		curl -fsS --cacert "$PKI_DIR/ca.crt" "https://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	die "registry at https://$REGISTRY_ADDR/v2/ does not answer; docker logs $REGISTRY_NAME"
}

# ---------------------------------------------------------------- hosts

# Files every host gets before it boots, as a tar stream for `docker cp`:
# root's authorized key, and the harness CA for Docker's registry trust
# (certs.d) and in the system store, as update-ca-certificates would add it
# (which takes seconds a host at boot on a busy machine).
host_files_tar() { # host_files_tar BASE_CA_BUNDLE
	local stage hash
	stage=$(mktemp -d)
	install -d -m 0700 "$stage/root" "$stage/root/.ssh"
	install -m 0600 "$SSH_KEY.pub" "$stage/root/.ssh/authorized_keys"
	install -d -m 0755 "$stage/usr" "$stage/usr/local" "$stage/usr/local/share" \
		"$stage/usr/local/share/ca-certificates" "$stage/etc" "$stage/etc/ssl" "$stage/etc/ssl/certs" \
		"$stage/etc/docker" "$stage/etc/docker/certs.d" "$stage/etc/docker/certs.d/$REGISTRY_ADDR"
	install -m 0644 "$PKI_DIR/ca.crt" "$stage/usr/local/share/ca-certificates/kdw-test-ca.crt"
	install -m 0644 "$PKI_DIR/ca.crt" "$stage/etc/docker/certs.d/$REGISTRY_ADDR/ca.crt"
	cat "$1" "$PKI_DIR/ca.crt" >"$stage/etc/ssl/certs/ca-certificates.crt"
	ln -s /usr/local/share/ca-certificates/kdw-test-ca.crt "$stage/etc/ssl/certs/kdw-test-ca.pem"
	hash=$(openssl x509 -hash -noout -in "$PKI_DIR/ca.crt")
	ln -s kdw-test-ca.pem "$stage/etc/ssl/certs/$hash.0"
	tar -C "$stage" --numeric-owner --owner=0 --group=0 -c root usr etc
	rm -rf "$stage"
}

base_ca_bundle() { # the system CA bundle of the host image
	local c
	c=$(docker create "$HOST_IMAGE" /bin/true)
	docker cp "$c:/etc/ssl/certs/ca-certificates.crt" - | tar -xO
	docker rm "$c" >/dev/null
}

# What a boot2docker-kind host's data disk holds before its first boot, as docker-machine's VirtualBox driver and a
# boot2docker user leave it: userdata.tar with the docker user's authorized key, the harness CA in certs/ (added to
# the system store at boot) and Docker's settings in etc/docker (daemon.json with the kdw-runc runtime, certs.d).
b2d_disk_tar() {
	local stage home d
	stage=$(mktemp -d)
	d="$stage/var/lib/boot2docker"
	install -d -m 0755 "$stage/var" "$stage/var/lib" "$d" "$d/certs" "$d/etc" "$d/etc/docker" \
		"$d/etc/docker/certs.d" "$d/etc/docker/certs.d/$REGISTRY_ADDR"
	home=$(mktemp -d)
	install -d -m 0700 "$home/.ssh"
	install -m 0600 "$SSH_KEY.pub" "$home/.ssh/authorized_keys"
	tar -C "$home" --numeric-owner --owner=1000 --group=50 -cf "$d/userdata.tar" .ssh
	rm -rf "$home"
	install -m 0644 "$PKI_DIR/ca.crt" "$d/certs/kdw-test-ca.pem"
	install -m 0644 "$PKI_DIR/ca.crt" "$d/etc/docker/certs.d/$REGISTRY_ADDR/ca.crt"
	install -m 0644 "$FILES_DIR/rootfs/etc/docker/daemon.json" "$d/etc/docker/daemon.json"
	tar -C "$stage" --numeric-owner --owner=0 --group=0 -c var
	rm -rf "$stage"
}

# Host kinds: `systemd` (Debian, the default) or `boot2docker` (up --boot2docker LIST). A host's kind is a label of
# its container; its SSH user is root, or docker on boot2docker, as docker-machine's VirtualBox boot2docker has it.
B2D_INDEXES=" "
parse_index_list() { # parse_index_list "2,5" or "2-4,6" -> " 2 5 " (sets B2D_INDEXES)
	local part from to i
	B2D_INDEXES=" "
	IFS=, read -ra parts <<<"$1"
	for part in "${parts[@]}"; do
		[[ "$part" =~ ^([0-9]+)(-([0-9]+))?$ ]] || die "--boot2docker takes host indexes like 2,5 or 2-4 (got '$1')"
		from=${BASH_REMATCH[1]}
		to=${BASH_REMATCH[3]:-$from}
		for ((i = from; i <= to; i++)); do B2D_INDEXES+="$i "; done
	done
}
wanted_kind() { # wanted_kind INDEX: the kind `up` makes
	case "$B2D_INDEXES" in
	*" $1 "*) echo boot2docker ;;
	*) echo systemd ;;
	esac
}
host_kind() { # host_kind NAME: the kind of an existing host
	local kind
	kind=$(docker inspect -f "{{index .Config.Labels \"$KIND_LABEL\"}}" "$1" 2>/dev/null) || kind=""
	echo "${kind:-systemd}"
}
kind_user() { if [ "$1" = boot2docker ]; then echo docker; else echo root; fi; }
host_login() { echo "$(kind_user "$(host_kind "$(host_name "$1")")")@$(host_ip "$1")"; }
disk_volume() { echo "$(host_name "$1")-disk"; }

create_host() { # create_host INDEX KIND IMAGE [DISK_TAR]: docker create, copy files in, start
	local i=$1 kind=$2 image=$3 disk_tar=${4:-} name ip extra=()
	name=$(host_name "$i")
	ip=$(host_ip "$i")
	[ -d /lib/modules ] && extra+=(-v /lib/modules:/lib/modules:ro)
	[ -d /dev/mapper ] && extra+=(-v /dev/mapper:/dev/mapper)
	if [ "$kind" = boot2docker ]; then
		# The root filesystem is the image's and goes with the container; the data disk is a volume that stays.
		docker volume inspect "$(disk_volume "$i")" >/dev/null 2>&1 ||
			docker volume create --label "$LABEL=disk" --label "$SET_LABEL" "$(disk_volume "$i")" >/dev/null
		extra+=(--tmpfs "/run:rw,nosuid,nodev,mode=755" -v "$(disk_volume "$i"):/mnt/sda1" --stop-signal SIGUSR2)
	else
		extra+=(--tmpfs "/run:rw,nosuid,nodev,noexec,mode=755" --tmpfs "/run/lock:rw,nosuid,nodev,noexec"
			--tmpfs "/tmp:rw,nosuid,nodev,exec,mode=1777" -v /var --stop-signal SIGRTMIN+3 -e container=docker)
	fi
	docker create --name "$name" --hostname "$name" --network "$NET_NAME" --ip "$ip" \
		--label "$LABEL=host" --label "$SET_LABEL" --label "$KIND_LABEL=$kind" --runtime "$RUNTIME" \
		--privileged --cgroupns=private \
		--security-opt seccomp=unconfined --security-opt apparmor=unconfined \
		"${extra[@]}" "$image" /sbin/init >/dev/null
	if [ "$kind" = boot2docker ]; then
		[ -z "$disk_tar" ] || docker cp - "$name:/mnt/sda1/" <"$disk_tar"
	else
		docker cp - "$name:/" <"$HOST_FILES_TAR"
	fi
	docker start "$name" >/dev/null
}

remove_host() { # remove_host INDEX: the container and its data disk
	docker rm -fv "$(host_name "$1")" >/dev/null 2>&1 || true
	docker volume rm "$(disk_volume "$1")" >/dev/null 2>&1 || true
}

# wait_host INDEX START_US: SSH answers, the init system is up, Docker answers; prints "name ssh-secs ready-secs init"
wait_host() {
	local i=$1 start=$2 name ip login deadline state
	name=$(host_name "$i")
	ip=$(host_ip "$i")
	login=$(host_login "$i")
	deadline=$(($(now_us) + BOOT_TIMEOUT * 1000000))
	until host_ssh "$login" true 2>/dev/null; do
		[ "$(now_us)" -lt "$deadline" ] || die "$name: no SSH at $login after ${BOOT_TIMEOUT}s"
		sleep 0.2
	done
	local ssh_secs
	ssh_secs=$(secs_since "$start")
	if [ "${login%@*}" = root ]; then
		state=$(host_ssh "$login" "timeout $BOOT_TIMEOUT systemctl is-system-running --wait" 2>/dev/null || true)
		case "$state" in
		running) ;;
		degraded)
			log "$name: systemd degraded; failed units: $(host_ssh "$login" systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
			;;
		*) die "$name: systemd is '$state'" ;;
		esac
	else
		state=busybox
	fi
	until host_ssh "$login" docker info >/dev/null 2>&1; do
		[ "$(now_us)" -lt "$deadline" ] || die "$name: Docker does not answer after ${BOOT_TIMEOUT}s"
		sleep 0.5
	done
	printf '%s %s %s %s\n' "$name" "$ssh_secs" "$(secs_since "$start")" "$state"
}

existing_host_indexes() {
	docker ps -a --filter "label=$LABEL=host" --filter "label=$SET_LABEL" --format '{{.Names}}' |
		sed -n "s/^$HOST_PREFIX\([0-9][0-9]*\)\$/\1/p" | sort -n
}

# Starts (or reuses) hosts 0..N-1 and, right after each, a background
# waiter (wait_host) that times it; wait_hosts collects them.
WAITERS=()
WAIT_DIR=""
start_hosts() { # start_hosts N
	local n=$1 i name kind image start started=()
	for i in $(existing_host_indexes); do
		if [ "$i" -ge "$n" ]; then
			log "removing $(host_name "$i") (beyond N=$n)"
			remove_host "$i"
		fi
	done
	local bundle
	bundle=$(mktemp)
	base_ca_bundle >"$bundle"
	HOST_FILES_TAR=$(mktemp)
	host_files_tar "$bundle" >"$HOST_FILES_TAR"
	rm -f "$bundle"
	local disk_tar
	disk_tar=$(mktemp)
	b2d_disk_tar >"$disk_tar"
	WAIT_DIR=$(mktemp -d)
	for i in $(seq 0 $((n - 1))); do
		name=$(host_name "$i")
		kind=$(wanted_kind "$i")
		image=$HOST_IMAGE
		[ "$kind" = systemd ] || image=$B2D_IMAGE
		if [ "$(container_state "$name")" != absent ]; then
			if [ "$(host_kind "$name")" != "$kind" ]; then
				log "recreating $name as a $kind host"
				remove_host "$i"
			elif [ "$(docker inspect -f '{{.Config.Image}}' "$name")" != "$image" ]; then
				log "recreating $name: the host image changed"
				remove_host "$i"
			fi
		fi
		start=$(now_us)
		case "$(container_state "$name")" in
		running)
			# Reused: refresh the key and CA in case they were made anew.
			if [ "$kind" = boot2docker ]; then
				docker cp - "$name:/mnt/sda1/" <"$disk_tar"
			else
				docker cp - "$name:/" <"$HOST_FILES_TAR"
			fi
			;;
		absent)
			create_host "$i" "$kind" "$image" "$disk_tar"
			started+=("$name")
			;;
		*)
			docker start "$name" >/dev/null
			started+=("$name")
			;;
		esac
		wait_host "$i" "$start" >"$WAIT_DIR/$i" &
		WAITERS+=($!)
	done
	rm -f "$HOST_FILES_TAR" "$disk_tar"
	[ ${#started[@]} -eq 0 ] || log "started ${started[*]}"
}

wait_hosts() {
	local pid failed=0
	for pid in "${WAITERS[@]}"; do
		wait "$pid" || failed=1
	done
	[ "$failed" -eq 0 ] || die "some hosts did not come up"
	BOOT_REPORT=$(cat "$WAIT_DIR"/*)
	rm -rf "$WAIT_DIR"
}

# reboot_host INDEX: restarts a host as a reboot does and waits for it; prints "name kind down-secs ssh-secs ready-secs".
# systemd: `docker restart` (the root filesystem stays, /run and /tmp start empty). boot2docker: the container is
# stopped, removed and made again from its image with the same data disk and address, so everything outside the
# disk is gone, as after a boot2docker reboot.
reboot_host() {
	local i=$1 name kind image start down_secs
	name=$(host_name "$i")
	[ "$(container_state "$name")" = running ] || die "$name is not running"
	kind=$(host_kind "$name")
	start=$(now_us)
	if [ "$kind" = boot2docker ]; then
		image=$(docker inspect -f '{{.Config.Image}}' "$name")
		docker stop -t 30 "$name" >/dev/null
		docker rm "$name" >/dev/null
		down_secs=$(secs_since "$start")
		create_host "$i" boot2docker "$image"
	else
		docker stop -t 30 "$name" >/dev/null
		down_secs=$(secs_since "$start")
		docker start "$name" >/dev/null
	fi
	local ready
	ready=$(wait_host "$i" "$start")
	printf '%s %s %s %s %s\n' "$name" "$kind" "$down_secs" "$(echo "$ready" | cut -d' ' -f2)" "$(echo "$ready" | cut -d' ' -f3)"
}

write_state_files() { # write_state_files N
	local n=$1 i sep="" name kind
	{
		printf '[\n'
		for i in $(seq 0 $((n - 1))); do
			name=$(host_name "$i")
			kind=$(host_kind "$name")
			printf '%s  {"name": %s, "ip": %s, "kind": %s, "sshUser": %s, "sshKeyPath": %s}' "$sep" \
				"$(json_str "$name")" "$(json_str "$(host_ip "$i")")" "$(json_str "$kind")" \
				"$(json_str "$(kind_user "$kind")")" "$(json_str "$SSH_KEY")"
			sep=$',\n'
		done
		printf '\n]\n'
	} >"$STATE_DIR/hosts.json.tmp"
	mv "$STATE_DIR/hosts.json.tmp" "$STATE_DIR/hosts.json"
	printf '{"address": %s, "caCertPath": %s}\n' "$(json_str "$REGISTRY_ADDR")" \
		"$(json_str "$PKI_DIR/ca.crt")" >"$STATE_DIR/registry.json"
}

probe_registry() { # push an empty image from the machine, pull it inside host 0
	local ref="$REGISTRY_ADDR/kdw-probe:1"
	tar -c -T /dev/null | docker import - "$ref" >/dev/null
	docker push -q "$ref" >/dev/null
	docker rmi "$ref" >/dev/null
	host_ssh "$(host_login 0)" "docker pull -q $ref >/dev/null && docker rmi $ref >/dev/null"
}

print_table() {
	local n=$1 i name
	printf '%-14s %-15s %-12s %-8s %-10s %-8s %s\n' NAME IP KIND STATE INIT SSH-UP READY
	for i in $(seq 0 $((n - 1))); do
		name=$(host_name "$i")
		echo "$BOOT_REPORT" | awk -v name="$name" -v ip="$(host_ip "$i")" -v st="$(container_state "$name")" \
			-v kind="$(host_kind "$name")" \
			'$1 == name { printf "%-14s %-15s %-12s %-8s %-10s %-8s %s\n", name, ip, kind, st, $4, $2 "s", $3 "s" }'
	done
	printf 'SSH:       ssh -i %s root@<ip> (docker@<ip> on boot2docker hosts)\n' "$SSH_KEY"
	printf 'Registry:  %s (CA %s)\n' "$REGISTRY_ADDR" "$PKI_DIR/ca.crt"
	printf 'State:     %s/hosts.json, %s/registry.json\n' "$STATE_DIR" "$STATE_DIR"
}

# ---------------------------------------------------------------- commands

cmd_up() { # cmd_up N [--boot2docker LIST]
	local n=${1:-6}
	[[ "$n" =~ ^[1-9][0-9]?$ ]] || die "N must be a number from 1 to 99 (got '$n')"
	shift || true
	while [ $# -gt 0 ]; do
		case "$1" in
		--boot2docker)
			[ $# -ge 2 ] || die "--boot2docker needs a list of host indexes, e.g. 2,5"
			parse_index_list "$2"
			shift 2
			;;
		*) die "unknown option '$1' (up takes N and --boot2docker LIST)" ;;
		esac
	done
	local i
	for i in $B2D_INDEXES; do
		[ "$i" -lt "$n" ] || die "--boot2docker: host $i is beyond N=$n (hosts are 0..$((n - 1)))"
	done
	[ "$(id -u)" -eq 0 ] || die "run as root (it starts dockerd and privileged containers)"
	local total
	total=$(now_us)
	mkdir -p "$CACHE_DIR" "$STATE_DIR"
	phase "packages" need_packages
	phase "inotify limits" raise_inotify_limits
	phase "dockerd" ensure_dockerd
	phase "disk space" check_disk_space
	phase "host image" ensure_host_image
	[ "$B2D_INDEXES" = " " ] || phase "boot2docker image" ensure_b2d_image
	phase "ssh key and CA" ensure_keys
	phase "network" ensure_network
	phase "registry" ensure_registry
	phase "start hosts" start_hosts "$n"
	phase "wait for hosts" wait_hosts
	phase "registry push/pull probe" probe_registry
	write_state_files "$n"
	print_table "$n"
	print_phase_times
	printf '  %-30s %7ss\n' "total up" "$(secs_since "$total")"
}

cmd_reboot() { # cmd_reboot INDEX...: reboots the hosts in parallel, prints one line per host
	[ $# -gt 0 ] || die "reboot needs host indexes, e.g. reboot 2 5"
	[ "$(id -u)" -eq 0 ] || die "run as root"
	local i pids=() out failed=0
	out=$(mktemp -d)
	for i in "$@"; do
		[[ "$i" =~ ^[0-9]+$ ]] || die "reboot takes host indexes (got '$i')"
		reboot_host "$i" >"$out/$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || failed=1; done
	printf '%-14s %-12s %-8s %-8s %s\n' NAME KIND DOWN SSH-UP READY
	cat "$out"/* | awk '{ printf "%-14s %-12s %-8s %-8s %s\n", $1, $2, $3 "s", $4 "s", $5 "s" }'
	rm -rf "$out"
	[ "$failed" -eq 0 ] || die "some hosts did not come back"
}

cmd_down() {
	local total
	total=$(now_us)
	if docker_up; then
		local ids
		ids=$(docker ps -aq --filter "label=$LABEL" --filter "label=$SET_LABEL")
		if [ -n "$ids" ]; then
			# shellcheck disable=SC2086 # one id a word
			phase "remove containers" docker rm -fv $ids >/dev/null
		fi
		ids=$(docker volume ls -q --filter "label=$LABEL=disk" --filter "label=$SET_LABEL")
		if [ -n "$ids" ]; then
			# shellcheck disable=SC2086 # one name a word
			phase "remove data disks" docker volume rm $ids >/dev/null
		fi
		if docker network inspect "$NET_NAME" >/dev/null 2>&1; then
			phase "remove network" docker network rm "$NET_NAME" >/dev/null
		fi
	fi
	rm -rf "/etc/docker/certs.d/$REGISTRY_ADDR"
	if docker_up && [ -n "$(docker ps -aq --filter "label=$LABEL")" ]; then
		log "another set of test hosts still runs: dockerd stays"
	else
		phase "stop dockerd (if ours)" stop_our_dockerd
	fi
	rm -f "$STATE_DIR/hosts.json" "$STATE_DIR/registry.json"
	local left
	left=$(grep -cE '/var/lib/docker|/run/docker' /proc/mounts || true)
	if ! ours_dockerd_pid >/dev/null && ! docker_up && [ "$left" -gt 0 ]; then
		log "warning: $left Docker mounts are left"
	fi
	print_phase_times
	printf '  %-30s %7ss\n' "total down" "$(secs_since "$total")"
}

cmd_status() {
	if ! docker_up; then
		echo "Docker: not running; no hosts"
		return 0
	fi
	local pid
	if pid=$(ours_dockerd_pid); then
		echo "Docker: dockerd pid $pid, started by this script"
	else
		echo "Docker: a daemon not started by this script"
	fi
	echo "Network: $(docker network inspect -f '{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NET_NAME" 2>/dev/null || echo absent)"
	echo "Registry: $REGISTRY_ADDR $(container_state "$REGISTRY_NAME")"
	local i name ip ssh_ok
	printf '%-14s %-15s %-12s %-8s %s\n' NAME IP KIND STATE SSH
	for i in $(existing_host_indexes); do
		name=$(host_name "$i")
		ip=$(host_ip "$i")
		ssh_ok=no
		host_ssh "$(host_login "$i")" true 2>/dev/null && ssh_ok=yes
		printf '%-14s %-15s %-12s %-8s %s\n' "$name" "$ip" "$(host_kind "$name")" "$(container_state "$name")" "$ssh_ok"
	done
	[ ! -f "$STATE_DIR/hosts.json" ] || echo "hosts.json: $STATE_DIR/hosts.json"
}

cmd_check() { # proofs that the hosts are fit for the cluster; needs `up` with N >= 2
	local ip0 ip1 ref
	ip0=$(host_login 0)
	ip1=$(host_login 1)
	log "host 0 pings host 1 and reaches its SSH port"
	host_ssh "$ip0" "ping -c1 -W2 ${ip1#*@} >/dev/null && if command -v bash >/dev/null; then
		timeout 3 bash -c 'echo >/dev/tcp/${ip1#*@}/22'; else echo | timeout 3 nc ${ip1#*@} 22 | grep -q ^SSH-; fi"
	log "host 0 reaches an address on host 1 through a route via host 1 (as pod routes do)"
	host_ssh "$ip1" "sudo ip addr replace 10.200.99.1/32 dev lo"
	host_ssh "$ip0" "sudo ip route replace 10.200.99.0/24 via ${ip1#*@} && ping -c1 -W2 10.200.99.1 >/dev/null"
	host_ssh "$ip0" "sudo ip route del 10.200.99.0/24"
	host_ssh "$ip1" "sudo ip addr del 10.200.99.1/32 dev lo"
	log "Docker in host 0 runs an image pulled from the registry"
	ref="$REGISTRY_ADDR/kdw-busybox:1"
	if ! docker image inspect "$ref" >/dev/null 2>&1; then
		local deb_dir="$CACHE_DIR/busybox-deb" stage
		mkdir -p "$deb_dir"
		[ -n "$(find "$deb_dir" -name 'busybox-static_*.deb')" ] ||
			(cd "$deb_dir" && apt-get download -q busybox-static >/dev/null 2>&1)
		stage=$(mktemp -d)
		dpkg-deb -x "$(find "$deb_dir" -name 'busybox-static_*.deb' | head -n1)" "$stage/deb"
		mkdir -p "$stage/root/bin"
		cp "$stage/deb/bin/busybox" "$stage/root/bin/busybox"
		for tool in sh true echo cat grep ls; do ln -s busybox "$stage/root/bin/$tool"; done
		tar -C "$stage/root" -c . | docker import --change 'CMD ["/bin/sh"]' - "$ref" >/dev/null
		rm -rf "$stage"
	fi
	docker push -q "$ref" >/dev/null
	host_ssh "$ip0" "docker rmi -f $ref >/dev/null 2>&1; docker pull -q $ref >/dev/null &&
		docker run --rm $ref echo hello from the registry image"
	log "host 0 trusts the registry through its system CA store (as containerd will)"
	host_ssh "$ip0" "curl -fsS https://$REGISTRY_ADDR/v2/_catalog"
	log "nested privileged container in host 0 (through kdw-runc)"
	host_ssh "$ip0" "docker run --rm --privileged $ref grep CapEff /proc/self/status"
	echo "check: all passed"
}

case "${1:-}" in
up)
	shift
	cmd_up "$@"
	;;
reboot)
	shift
	cmd_reboot "$@"
	;;
down) cmd_down ;;
status) cmd_status ;;
check) cmd_check ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
	exit 2
	;;
esac

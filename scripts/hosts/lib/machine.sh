# shellcheck shell=bash
# What `up` needs of this machine before it makes anything: the Debian packages whose commands it runs, inotify
# limits high enough for every host's kubelet, and enough free disk for their pods.

# ---------------------------------------------------------------- packages

need_packages() { # installs the Debian packages whose commands are missing
	local -A pkg_of=([dockerd]=docker.io [debootstrap]=debootstrap [ssh]=openssh-client
		[ssh-keygen]=openssh-client [ip]=iproute2 [iptables]=iptables [openssl]=openssl
		[curl]=curl [runc]=runc [jq]=jq)
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

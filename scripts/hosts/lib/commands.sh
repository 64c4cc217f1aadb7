# shellcheck shell=bash
# The commands of scripts/hosts.sh (up, reboot, down, status, check): each puts the other files' steps in order.

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

cmd_replace() { # cmd_replace INDEX...: hosts lost for good, and blank ones of the same kind at their addresses
	[ $# -gt 0 ] || die "replace needs host indexes, e.g. replace 1"
	[ "$(id -u)" -eq 0 ] || die "run as root"
	local i name kinds=() images=()
	for i in "$@"; do
		[[ "$i" =~ ^[0-9]+$ ]] || die "replace takes host indexes (got '$i')"
		name=$(host_name "$i")
		[ "$(container_state "$name")" != absent ] || die "$name does not exist: make it with up"
		kinds+=("$(host_kind "$name")")
		images+=("$(docker inspect -f '{{.Config.Image}}' "$name")")
	done
	# The host image's CA bundle goes into the new hosts' files (the image is built already: this only names it).
	ensure_host_image
	make_host_files
	local n=0 start
	for i in "$@"; do
		# Without warning, as a VM deleted: the container killed and removed, its data disk too.
		remove_host "$i"
		start=$(now_us)
		create_host "$i" "${kinds[$n]}" "${images[$n]}" "$B2D_DISK_TAR"
		wait_host "$i" "$start" >/dev/null
		log "$(host_name "$i"): lost with its disk; a blank ${kinds[$n]} host at $(host_ip "$i")"
		n=$((n + 1))
	done
	rm -f "$HOST_FILES_TAR" "$B2D_DISK_TAR"
}

cmd_object_store() {
	[ "$(id -u)" -eq 0 ] || die "run as root"
	if ! docker_up || ! docker network inspect "$NET_NAME" >/dev/null 2>&1; then
		die "no test hosts' network $NET_NAME: run up first"
	fi
	ensure_object_store
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
	rm -f "$STATE_DIR/hosts.json" "$STATE_DIR/registry.json" "$STORE_STATE"
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

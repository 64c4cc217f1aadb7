# shellcheck shell=bash
# A host's life: made (docker create, its files copied in, started), waited for until SSH, its init system and Docker
# answer, removed, rebooted as its kind reboots; `up`'s start of all hosts and the collection of their boot times.

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
		--privileged --cgroupns=private --cpu-shares "$CPU_SHARES" \
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
	make_host_files
	local disk_tar=$B2D_DISK_TAR
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

# What a new host gets copied in: HOST_FILES_TAR (a systemd host's key and CA files) and B2D_DISK_TAR (a boot2docker
# host's data disk). The caller removes both.
make_host_files() {
	local bundle
	bundle=$(mktemp)
	base_ca_bundle >"$bundle"
	HOST_FILES_TAR=$(mktemp)
	host_files_tar "$bundle" >"$HOST_FILES_TAR"
	rm -f "$bundle"
	B2D_DISK_TAR=$(mktemp)
	b2d_disk_tar >"$B2D_DISK_TAR"
}

wait_hosts() {
	local pid failed=0
	for pid in "${WAITERS[@]}"; do
		wait "$pid" || failed=1
	done
	[ "$failed" -eq 0 ] || die "some hosts did not come up"
	# shellcheck disable=SC2034 # read by print_table (report.sh)
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

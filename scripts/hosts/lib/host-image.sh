# shellcheck shell=bash
# The systemd kind's image: a debootstrap of Debian with the host packages (the base, cached as a tarball and an
# image, which the boot2docker kind is also made from) plus the overlay of scripts/hosts/rootfs and kdw-runc.
# Both are keyed, so that a change of what goes into them makes them anew.

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

base_tarfile() { echo "$CACHE_DIR/rootfs-$(base_key).tar"; }

ensure_base_tarfile() { # the debootstrap result as a tarball, built once (the boot2docker ISO is made from it, no Docker)
	local tarfile
	tarfile=$(base_tarfile)
	if [ -f "$tarfile" ]; then
		log "rootfs $tarfile cached"
	else
		phase "build rootfs (debootstrap)" build_base_rootfs "$tarfile"
	fi
	# Older rootfs tarballs are of no further use.
	find "$CACHE_DIR" -maxdepth 1 -name 'rootfs-*.tar' ! -name "$(basename "$tarfile")" -delete
}

BASE_IMAGE=""
ensure_base_image() { # the debootstrap result as an image, built or imported once
	BASE_IMAGE="kdw-host-base:$(base_key)"
	docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
	ensure_base_tarfile
	docker import --change "LABEL $LABEL=image" "$(base_tarfile)" "$BASE_IMAGE" >/dev/null
}

# The base as a tar stream: its tarball, else (the tarball removed, the image kept) an export of the base image.
base_tar_stream() {
	local tarfile c
	tarfile=$(base_tarfile)
	if [ -f "$tarfile" ]; then
		cat "$tarfile"
		return
	fi
	c=$(docker create "$BASE_IMAGE" /bin/true)
	docker export "$c"
	docker rm "$c" >/dev/null
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

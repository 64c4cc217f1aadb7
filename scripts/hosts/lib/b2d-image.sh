# shellcheck shell=bash
# The boot2docker kind's image: busybox and the programs boot2docker ships, taken from the Debian base (see
# host-image.sh), plus scripts/hosts/boot2docker/rootfs. Built only when `up --boot2docker` asks for such hosts.

# Debian packages the base lacks, for the boot2docker kind: busybox (the userland) and openssl (dockerd's first TLS).
# Debian's busybox, not busybox-static: the static build's shell runs its own applets before the PATH's programs (its
# `ip` before iproute2's), which no boot2docker does.
b2d_debs() { # prints the folder holding the unpacked packages
	local dir="$CACHE_DIR/b2d-debs" pkg deb
	mkdir -p "$dir"
	for pkg in busybox openssl; do
		deb=$(fetch_deb "$dir" "$pkg")
		[ -d "$dir/x/$pkg" ] || { mkdir -p "$dir/x/$pkg" && dpkg-deb -x "$deb" "$dir/x/$pkg"; }
	done
	echo "$dir/x"
}

fetch_deb() { # fetch_deb DIR PACKAGE: prints the path of the package's .deb in DIR, downloaded the first time
	local dir=$1 pkg=$2 deb
	deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n1)
	if [ -z "$deb" ]; then
		(cd "$dir" && apt-get download -q "$pkg" >>"$dir/download.log" 2>&1) ||
			(apt-get update -q >/dev/null 2>&1 && cd "$dir" && apt-get download -q "$pkg" >>"$dir/download.log" 2>&1) ||
			die "could not download $pkg, see $dir/download.log"
		deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n1)
	fi
	echo "$deb"
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
# sudo, iptables in legacy mode, ipset, iproute2's ip, curl, openssl), taken from the Debian base with its libraries.
# No bash, no systemd, no coreutils. Shared by the container image (build_b2d_rootfs) and the ISO (vm-iso.sh).
fill_b2d_root() { # fill_b2d_root WORK DEBS_DIR: the root filesystem in WORK/root (WORK/src is scratch space)
	local work=$1 debs=$2 src root
	src="$work/src"
	root="$work/root"
	mkdir -p "$src" "$root"
	base_tar_stream | tar -C "$src" -x

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
	# ipset, as iptables: a worker's NetworkPolicy rules match on kube-router's sets, and its sweep removes them.
	take usr/sbin/ipset usr/local/sbin/ipset
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
	rm -rf "$src"
}

build_b2d_rootfs() { # build_b2d_rootfs TARFILE DEBS_DIR
	local tarfile=$1 work
	work=$(mktemp -d "$CACHE_DIR/b2d-build.XXXXXX")
	# shellcheck disable=SC2064 # the folder is meant to be fixed now
	trap "rm -rf '$work' '$tarfile.tmp'" EXIT
	fill_b2d_root "$work" "$2"
	tar -C "$work/root" --numeric-owner -cf "$tarfile.tmp" .
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

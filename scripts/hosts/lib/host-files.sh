# shellcheck shell=bash
# What a host gets before it boots, as tar streams for `docker cp`: a systemd host's authorized key and the harness
# CA (Docker's certs.d and the system store); a boot2docker host's data disk as docker-machine leaves it.

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

# shellcheck shell=bash
# One set's Docker network and the TLS image registry on it: the registry image is Debian's docker-registry binary
# with its libraries, its data survives `down`. Also the probe `up` ends with: a push from this machine, a pull in
# host 0.

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
	# shellcheck disable=SC2034 # a count of tries only
	for i in $(seq 1 40); do
		curl -fsS --cacert "$PKI_DIR/ca.crt" "https://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	die "registry at https://$REGISTRY_ADDR/v2/ does not answer; docker logs $REGISTRY_NAME"
}

probe_registry() { # push an empty image from the machine, pull it inside host 0
	local ref="$REGISTRY_ADDR/kdw-probe:1"
	tar -c -T /dev/null | docker import - "$ref" >/dev/null
	docker push -q "$ref" >/dev/null
	docker rmi "$ref" >/dev/null
	host_ssh "$(host_login 0)" "docker pull -q $ref >/dev/null && docker rmi $ref >/dev/null"
}

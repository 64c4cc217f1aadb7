# shellcheck shell=bash
# One set's S3-compatible object store, where the clusters on its hosts copy their etcd snapshots (the
# etcdSnapshotStore setting): versitygw, an S3 gateway over a folder, from the toolchain (built from its Go module),
# over TLS with a certificate of the set's CA (which the hosts trust), on the set's network beside the registry. Its
# data is a volume that `down` removes with the hosts' disks. Made by `object-store` (after `up`, once the toolchain
# is built: `up` runs while it builds); object-store.json says how to reach it, for the stacks that use it.

STORE_NAME="kdw-object-store$SFX"
STORE_IP="$NET_PREFIX.3"
STORE_ENDPOINT="https://$STORE_IP:9000"
STORE_BUCKET=etcd-snapshots
STORE_STATE="$STATE_DIR/object-store.json"
STORE_IMAGE_LAYOUT=2 # bump when the image's folders change (ensure_store_image)

ensure_store_image() { # a layer holding the static binary alone; its tag is the binary's digest
	local bin="${KDW_TOOLCHAIN_HOME:-}/bin/versitygw" stage digest
	[ -x "$bin" ] || die "no versitygw in the toolchain (${KDW_TOOLCHAIN_HOME:-KDW_TOOLCHAIN_HOME unset}): npm run toolchain, and source scripts/env.sh"
	digest=$(sha256sum "$bin" | cut -c1-12)
	STORE_IMAGE="kdw-object-store:$digest-$STORE_IMAGE_LAYOUT"
	docker image inspect "$STORE_IMAGE" >/dev/null 2>&1 && return 0
	stage=$(mktemp -d)
	# /data's folders: a new volume mounted there starts as a copy of them (the gateway wants both to exist).
	mkdir -p "$stage/usr/local/bin" "$stage/data/root" "$stage/data/meta" "$stage/certs" "$stage/tmp"
	cp "$bin" "$stage/usr/local/bin/versitygw"
	tar -C "$stage" --numeric-owner -c . | docker import \
		--change 'ENTRYPOINT ["/usr/local/bin/versitygw"]' --change "LABEL $LABEL=image" - "$STORE_IMAGE" >/dev/null
	rm -rf "$stage"
}

ensure_store_cert() {
	if [ -f "$PKI_DIR/object-store.crt" ] &&
		openssl x509 -in "$PKI_DIR/object-store.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$STORE_IP\$" &&
		openssl x509 -in "$PKI_DIR/object-store.crt" -noout -checkend 86400 >/dev/null; then
		return 0
	fi
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$STORE_NAME" \
		-keyout "$PKI_DIR/object-store.key" -out "$PKI_DIR/object-store.csr" 2>/dev/null
	printf '%s\n' "subjectAltName=IP:$STORE_IP,DNS:$STORE_NAME" "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$PKI_DIR/object-store.ext"
	openssl x509 -req -in "$PKI_DIR/object-store.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
		-CAcreateserial -days 825 -extfile "$PKI_DIR/object-store.ext" -out "$PKI_DIR/object-store.crt" 2>/dev/null
	chmod 0644 "$PKI_DIR/object-store.crt" "$PKI_DIR/object-store.key"
}

# The root account's keys: made once for the set, kept in its state folder (0600), never in the repository, and given
# to the gateway as an env file (not on a command line, which `ps` shows).
STORE_KEYS="$STATE_DIR/object-store.env"
store_credentials() {
	if [ ! -s "$STORE_KEYS" ]; then
		(umask 077 && printf 'ROOT_ACCESS_KEY_ID=%s\nROOT_SECRET_ACCESS_KEY=%s\n' "kdw$(openssl rand -hex 8)" \
			"$(openssl rand -hex 20)" >"$STORE_KEYS")
	fi
	STORE_ACCESS_KEY=$(sed -n 's/^ROOT_ACCESS_KEY_ID=//p' "$STORE_KEYS")
	STORE_SECRET_KEY=$(sed -n 's/^ROOT_SECRET_ACCESS_KEY=//p' "$STORE_KEYS")
}

store_request() { # CURL-ARGS... URL-PATH: a signed request with no body (S3 wants the empty payload's sha256 signed)
	local path=${*: -1}
	printf 'user = "%s:%s"\n' "$STORE_ACCESS_KEY" "$STORE_SECRET_KEY" |
		curl -fsS --max-time 5 --config - --cacert "$PKI_DIR/ca.crt" --aws-sigv4 "aws:amz:us-east-1:s3" \
			--header "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
			-o /dev/null "${@:1:$#-1}" "$STORE_ENDPOINT$path" 2>/dev/null
}

ensure_object_store() {
	ensure_keys
	ensure_network
	ensure_store_image
	ensure_store_cert
	store_credentials
	local current
	current=$(docker inspect -f '{{.Config.Image}}' "$STORE_NAME" 2>/dev/null || true)
	if [ "$current" != "$STORE_IMAGE" ]; then
		docker rm -f "$STORE_NAME" >/dev/null 2>&1 || true
		docker volume create --label "$LABEL=disk" --label "$SET_LABEL" "$STORE_NAME-data" >/dev/null
		# The bucket is a folder of the gateway's root; metadata beside the objects in a sidecar folder, so that the
		# volume's filesystem needs no extended attributes.
		docker run -d --name "$STORE_NAME" --hostname "$STORE_NAME" --network "$NET_NAME" --ip "$STORE_IP" \
			--restart unless-stopped --label "$LABEL=object-store" --label "$SET_LABEL" \
			-v "$STORE_NAME-data:/data" -v "$PKI_DIR:/certs:ro" \
			--env-file "$STORE_KEYS" \
			"$STORE_IMAGE" --port ":9000" --cert /certs/object-store.crt --key /certs/object-store.key \
			posix --sidecar /data/meta /data/root >/dev/null
	fi
	local waited=0
	until store_request "/$STORE_BUCKET?list-type=2"; do
		# The bucket is made through the API, once the gateway answers at all.
		store_request -X PUT "/$STORE_BUCKET" || true
		waited=$((waited + 1))
		if [ "$waited" -ge 30 ]; then
			docker logs --tail 20 "$STORE_NAME" >&2 || true
			die "the object store $STORE_ENDPOINT does not answer after 30 s"
		fi
		sleep 1
	done
	(umask 077 && printf '{"endpoint": %s, "bucket": %s, "accessKeyId": %s, "secretAccessKey": %s, "caCertFile": %s}\n' \
		"$(json_str "$STORE_ENDPOINT")" "$(json_str "$STORE_BUCKET")" "$(json_str "$STORE_ACCESS_KEY")" \
		"$(json_str "$STORE_SECRET_KEY")" "$(json_str "$PKI_DIR/ca.crt")" >"$STORE_STATE")
	log "object store: $STORE_ENDPOINT, bucket $STORE_BUCKET ($STORE_STATE)"
}

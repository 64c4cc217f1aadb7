# shellcheck shell=bash
# One set's keys: the SSH key every host accepts and the CA that signs the registry's certificate (which the hosts
# and this machine's Docker trust). Made once and kept in the state folder; the certificate is renewed when its
# address changed or it is about to expire.

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

# shellcheck shell=bash
# What `up` leaves for others and shows: the state files (hosts.json, registry.json) that the e2e and images.sh
# read, and the table of hosts with their boot times.

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

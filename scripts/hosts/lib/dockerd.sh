# shellcheck shell=bash
# The one dockerd that runs every set of test hosts: started by `up` when no Docker daemon answers (with the kdw-runc
# runtime as its default), stopped by `down` when no set is left, with what it left in the machine's network settings.

ours_dockerd_pid() { # prints the pid of the dockerd this script started, if it runs
	local pid
	pid=$(cat "$DOCKERD_DIR/dockerd.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

ensure_dockerd() {
	mkdir -p "$DOCKERD_DIR"
	if docker_up; then
		docker info --format '{{json .Runtimes}}' | grep -q "\"$RUNTIME\"" ||
			die "a Docker daemon runs without the '$RUNTIME' runtime; add to its daemon.json:
  \"runtimes\": {\"$RUNTIME\": {\"path\": \"$FILES_DIR/kdw-runc\"}}  (then restart it), or stop it"
		log "using the running Docker daemon"
		return 0
	fi
	install -m 0755 "$FILES_DIR/kdw-runc" "$DOCKERD_DIR/kdw-runc"
	cat >"$DOCKERD_DIR/daemon.json" <<-EOF
		{
		  "runtimes": { "$RUNTIME": { "path": "$DOCKERD_DIR/kdw-runc" } },
		  "default-runtime": "$RUNTIME",
		  "log-opts": { "max-size": "10m", "max-file": "2" }
		}
	EOF
	cat /proc/sys/net/ipv4/ip_forward >"$DOCKERD_DIR/ip_forward.before"
	iptables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p' >"$DOCKERD_DIR/forward_policy.before" || true
	log "starting dockerd (log: $DOCKERD_DIR/dockerd.log)"
	setsid dockerd --config-file "$DOCKERD_DIR/daemon.json" --pidfile "$DOCKERD_DIR/dockerd.pid" \
		</dev/null >>"$DOCKERD_DIR/dockerd.log" 2>&1 &
	local i
	for i in $(seq 1 120); do
		docker_up && return 0
		sleep 0.5
		[ "$i" -lt 20 ] || kill -0 $! 2>/dev/null || die "dockerd exited, see $DOCKERD_DIR/dockerd.log"
	done
	die "dockerd did not answer within 60 s, see $DOCKERD_DIR/dockerd.log"
}

# Undo what our dockerd left in the machine's network settings.
clean_docker_netfilter() {
	local table line
	for table in filter nat; do
		iptables -t "$table" -S 2>/dev/null | grep -E "^-A .*(DOCKER|docker0|$BRIDGE)" | while read -r line; do
			# shellcheck disable=SC2086 # the rule is a list of words
			iptables -t "$table" -D ${line#-A } 2>/dev/null || true
		done
		iptables -t "$table" -S 2>/dev/null | sed -n 's/^-N \(DOCKER.*\)/\1/p' | while read -r line; do
			iptables -t "$table" -F "$line" 2>/dev/null || true
			iptables -t "$table" -X "$line" 2>/dev/null || true
		done
	done
	local policy
	policy=$(cat "$DOCKERD_DIR/forward_policy.before" 2>/dev/null || true)
	[ -z "$policy" ] || iptables -P FORWARD "$policy" || true
	if [ -f "$DOCKERD_DIR/ip_forward.before" ]; then
		cat "$DOCKERD_DIR/ip_forward.before" >/proc/sys/net/ipv4/ip_forward || true
	fi
}

stop_our_dockerd() {
	local pid
	pid=$(ours_dockerd_pid) || {
		rm -f "$DOCKERD_DIR/dockerd.pid"
		return 0
	}
	log "stopping dockerd (pid $pid)"
	kill -TERM "$pid"
	local i
	for i in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "dockerd did not stop in 30 s; killing pid $pid"
		kill -KILL "$pid" || true
	fi
	rm -f "$DOCKERD_DIR/dockerd.pid"
	ip link show docker0 >/dev/null 2>&1 && ip link delete docker0
	clean_docker_netfilter
}

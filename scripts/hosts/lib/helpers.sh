# shellcheck shell=bash
# Small helpers every other file here uses: log lines and errors, the timing of up's and down's phases, host names
# and addresses, JSON strings, whether Docker answers, a container's state, and SSH to a host.

log() { printf '[hosts] %s\n' "$*" >&2; }
die() {
	printf '[hosts] error: %s\n' "$*" >&2
	exit 1
}

now_us() { echo "${EPOCHREALTIME/./}"; }
secs_since() { # secs_since START_US -> "12.3"
	local d=$(($(now_us) - $1))
	printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}

PHASE_TIMES=()
phase() { # phase NAME COMMAND...: run a step and remember how long it took
	local name=$1 start
	shift
	start=$(now_us)
	log "$name..."
	"$@"
	PHASE_TIMES+=("$(printf '  %-30s %7ss' "$name" "$(secs_since "$start")")")
}
print_phase_times() {
	printf 'Phase times:\n'
	printf '%s\n' "${PHASE_TIMES[@]}"
}

host_name() { echo "$HOST_PREFIX$1"; }
host_ip() { echo "$NET_PREFIX.$((HOST_IP_OFFSET + $1))"; }
json_str() { # a JSON string literal for a value without control characters
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

docker_up() { timeout 20 docker info >/dev/null 2>&1; }
container_state() { # running, exited, created... or absent
	local state
	state=$(docker inspect -f '{{.State.Status}}' "$1" 2>/dev/null) || state=""
	echo "${state:-absent}"
}
host_ssh() { # host_ssh USER@IP COMMAND...
	local login=$1
	shift
	# shellcheck disable=SC2029 # the command is meant to be expanded here
	ssh "${SSH_OPTS[@]}" "$login" "$@"
}

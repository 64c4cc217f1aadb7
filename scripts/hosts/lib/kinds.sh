# shellcheck shell=bash
# The two kinds of host, systemd and boot2docker: which kind `up --boot2docker LIST` wants for an index, the kind of
# a host that exists (a label of its container), its SSH user and login, and its data disk's name.

# Host kinds: `systemd` (Debian, the default) or `boot2docker` (up --boot2docker LIST). A host's kind is a label of
# its container; its SSH user is root, or docker on boot2docker, as docker-machine's VirtualBox boot2docker has it.
B2D_INDEXES=" "
parse_index_list() { # parse_index_list "2,5" or "2-4,6" -> " 2 5 " (sets B2D_INDEXES)
	local part from to i
	B2D_INDEXES=" "
	IFS=, read -ra parts <<<"$1"
	for part in "${parts[@]}"; do
		[[ "$part" =~ ^([0-9]+)(-([0-9]+))?$ ]] || die "--boot2docker takes host indexes like 2,5 or 2-4 (got '$1')"
		from=${BASH_REMATCH[1]}
		to=${BASH_REMATCH[3]:-$from}
		for ((i = from; i <= to; i++)); do B2D_INDEXES+="$i "; done
	done
}
wanted_kind() { # wanted_kind INDEX: the kind `up` makes
	case "$B2D_INDEXES" in
	*" $1 "*) echo boot2docker ;;
	*) echo systemd ;;
	esac
}
host_kind() { # host_kind NAME: the kind of an existing host
	local kind
	kind=$(docker inspect -f "{{index .Config.Labels \"$KIND_LABEL\"}}" "$1" 2>/dev/null) || kind=""
	echo "${kind:-systemd}"
}
kind_user() { if [ "$1" = boot2docker ]; then echo docker; else echo root; fi; }
host_login() { echo "$(kind_user "$(host_kind "$(host_name "$1")")")@$(host_ip "$1")"; }
disk_volume() { echo "$(host_name "$1")-disk"; }

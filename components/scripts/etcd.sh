# Runs this controller's etcd member as a container that Docker restarts with the host.
# Environment: KDW_ETC KDW_DATA KDW_IMAGE KDW_ETCD_ARGS (the flags, space separated)
set -eu
name=kdw-etcd

# etcd runs as its own unprivileged user, which owns its data and its keys (CIS 1.1.11, 1.1.12). On boot2docker the
# account is gone after a reboot, but the container keeps running under its numeric ids.
etcd_user() {
    id etcd >/dev/null 2>&1 && return 0
    if command -v useradd >/dev/null 2>&1; then
        if grep -q '^etcd:' /etc/group; then group="-g etcd"; else group="--user-group"; fi
        # shellcheck disable=SC2086 # one or two words
        useradd --system $group --no-create-home --home-dir /nonexistent --shell /bin/false etcd
    else
        grep -q '^etcd:' /etc/group || addgroup -S etcd
        adduser -S -D -H -h /nonexistent -s /bin/false -G etcd etcd
    fi
}

case "$1" in
up)
    kdw_write_files
    docker rm -f "$name" >/dev/null 2>&1 || true
    etcd_user
    mkdir -p "$KDW_DATA/etcd"
    chown -R etcd:etcd "$KDW_DATA/etcd" "$KDW_ETC/etcd"
    chmod 0700 "$KDW_DATA/etcd"
    # shellcheck disable=SC2086 # the flags are meant to split into words
    docker run --detach --name "$name" --restart always --network host --user "$(id -u etcd):$(id -g etcd)" \
        --volume "$KDW_ETC/etcd:/etc/etcd:ro" --volume "$KDW_DATA/etcd:/var/lib/etcd" \
        "$KDW_IMAGE" etcd $KDW_ETCD_ARGS >/dev/null
    echo "etcd member started: $(docker inspect --format '{{.State.Status}}' "$name")"
    ;;
down)
    docker rm -f "$name" >/dev/null 2>&1 || true
    ;;
esac

# Runs this controller's etcd member as a container that Docker restarts with the host.
# Environment: KDW_ETC KDW_DATA KDW_IMAGE KDW_ETCD_ARGS (the flags, space separated)
set -eu
name=kdw-etcd
case "$1" in
up)
    kdw_write_files
    docker rm -f "$name" >/dev/null 2>&1 || true
    mkdir -p "$KDW_DATA/etcd"
    chmod 0700 "$KDW_DATA/etcd"
    # shellcheck disable=SC2086 # the flags are meant to split into words
    docker run --detach --name "$name" --restart always --network host \
        --volume "$KDW_ETC/etcd:/etc/etcd:ro" --volume "$KDW_DATA/etcd:/var/lib/etcd" \
        "$KDW_IMAGE" etcd $KDW_ETCD_ARGS >/dev/null
    echo "etcd member started: $(docker inspect --format '{{.State.Status}}' "$name")"
    ;;
down)
    docker rm -f "$name" >/dev/null 2>&1 || true
    ;;
esac

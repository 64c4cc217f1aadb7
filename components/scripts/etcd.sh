# Runs this controller's etcd member as a container that Docker restarts with the host, and checks that it answers.
# Environment: KDW_NODE KDW_ETC KDW_DATA KDW_IMAGE KDW_ETCD_ARGS (the flags, space separated)
set -eu
name=kdw-etcd

# The member answers its clients over TLS (a status needs no quorum: the other members may still be starting).
answers() {
    docker exec "$name" etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.pem \
        --cert=/etc/etcd/server.pem --key=/etc/etcd/server-key.pem --command-timeout=3s endpoint status >/dev/null 2>&1
}

wait_answers() {
    start=$(date +%s)
    until answers; do
        elapsed=$(($(date +%s) - start))
        restarts=$(docker inspect --format '{{.RestartCount}}' "$name" 2>/dev/null || echo 0)
        if [ "$elapsed" -ge 60 ] || [ "$restarts" -ge 3 ]; then
            echo "$KDW_NODE ($(hostname)): the etcd member does not answer on https://127.0.0.1:2379 after ${elapsed}s" \
                "($restarts restarts); its last log lines:" >&2
            docker logs --tail 30 "$name" >&2 2>&1 || true
            return 1
        fi
        sleep 1
    done
    echo "etcd member answers after $(($(date +%s) - start))s"
}

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
    wait_answers
    ;;
down)
    docker rm -f "$name" >/dev/null 2>&1 || true
    ;;
esac

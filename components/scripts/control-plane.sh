# Runs kube-apiserver, kube-controller-manager and kube-scheduler as containers that Docker restarts with the host,
# then waits until this apiserver reports ready. `roll` is the same on a running controller: its caller rolls one
# controller at a time, each ready before the next.
# Environment: KDW_ETC KDW_IMAGE_PREFIX KDW_VERSION KDW_PORT KDW_APISERVER_ARGS KDW_CONTROLLER_MANAGER_ARGS KDW_SCHEDULER_ARGS
set -eu
components="kube-apiserver kube-controller-manager kube-scheduler"

start() { # component, flags
    # The image first, so that the component is down only for its restart; a stop lets the apiserver finish requests.
    image="$KDW_IMAGE_PREFIX/$1:$KDW_VERSION"
    docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image" >/dev/null
    docker stop --time 30 "kdw-$1" >/dev/null 2>&1 || true
    docker rm -f "kdw-$1" >/dev/null 2>&1 || true
    # shellcheck disable=SC2086 # the flags are meant to split into words
    docker run --detach --name "kdw-$1" --restart always --network host \
        --volume "$KDW_ETC/control-plane:/etc/kubernetes:ro" --volume /var/log/kdw:/var/log/kubernetes \
        "$image" "$1" $2 >/dev/null
}

wait_ready() {
    url="https://127.0.0.1:$KDW_PORT/readyz"
    i=0
    while [ "$i" -lt 180 ]; do
        if curl --silent --fail --max-time 5 --cacert "$KDW_ETC/control-plane/ca.pem" "$url" >/dev/null 2>&1; then
            echo "kube-apiserver ready after ${i}s"
            return 0
        fi
        i=$((i + 1))
        sleep 1
    done
    echo "kube-apiserver not ready after 180s; its last log lines:" >&2
    docker logs --tail 30 kdw-kube-apiserver >&2 || true
    return 1
}

case "$1" in
up|roll)
    kdw_write_files
    mkdir -p /var/log/kdw
    start kube-apiserver "$KDW_APISERVER_ARGS"
    start kube-controller-manager "$KDW_CONTROLLER_MANAGER_ARGS"
    start kube-scheduler "$KDW_SCHEDULER_ARGS"
    wait_ready
    ;;
down)
    for component in $components; do
        docker rm -f "kdw-$component" >/dev/null 2>&1 || true
    done
    ;;
esac

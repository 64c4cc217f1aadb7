# Runs kube-apiserver, kube-controller-manager and kube-scheduler as containers that Docker restarts with the host,
# then waits until this apiserver reports ready and the controller-manager and scheduler report healthy. `roll` is the
# same on a running controller, its kube-vip (if any) stepping aside meanwhile: its caller rolls one controller at a
# time, each healthy before the next.
# Uses lib-control-plane.sh, and lib-etcd-snapshot.sh: a roll takes a snapshot of etcd first. The encryption configuration is encryption.sh's (key rotations have phases of their own).
# Environment: KDW_NODE KDW_ETC KDW_AUDIT_LOGS KDW_IMAGE_PREFIX KDW_VERSION KDW_PORT KDW_APISERVER_ARGS
#              KDW_CONTROLLER_MANAGER_ARGS KDW_SCHEDULER_ARGS
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
        --volume "$KDW_ETC/control-plane:/etc/kubernetes:ro" --volume "$KDW_AUDIT_LOGS:/var/log/kubernetes" \
        "$image" "$1" $2 >/dev/null
}

case "$1" in
up|roll)
    kdw_write_files
    mkdir -p "$KDW_AUDIT_LOGS"
    [ "$1" != roll ] || kdw_snapshot_before_roll
    [ "$1" != roll ] || step_aside_kube_vip
    start kube-apiserver "$KDW_APISERVER_ARGS"
    start kube-controller-manager "$KDW_CONTROLLER_MANAGER_ARGS"
    start kube-scheduler "$KDW_SCHEDULER_ARGS"
    wait_healthy kube-apiserver "https://127.0.0.1:$KDW_PORT/readyz" 180 --cacert "$KDW_ETC/control-plane/ca.pem"
    # Their serving certificates are their own, self-signed: only the answer matters here.
    wait_healthy kube-controller-manager https://127.0.0.1:10257/healthz 60 --insecure
    wait_healthy kube-scheduler https://127.0.0.1:10259/healthz 60 --insecure
    ;;
down)
    for component in $components; do
        docker rm -f "kdw-$component" >/dev/null 2>&1 || true
    done
    ;;
esac

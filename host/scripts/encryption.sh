# The apiserver's encryption configuration on a controller: which key encrypts Secrets at rest and which keys read,
# one phase of a key rotation at a time. `up` writes it (a new controller, before its apiserver first starts); `roll`
# writes it and, unless the running apiserver started after the file was last written (it reads the file only when it
# starts), restarts the apiserver, its kube-vip stepping aside, and waits until it is ready: its caller rolls one
# controller at a time. A run killed between the write and the restart restarts on the next `roll`. `down` removes it.
# Environment: KDW_NODE KDW_ETC KDW_PORT KDW_PHASE (the rotation's phase, for the messages)
set -eu
config="$KDW_ETC/control-plane/encryption-config.yaml"

# When the running apiserver started, in seconds since the epoch; nothing when it does not run.
apiserver_started() {
    state=$(docker inspect --format '{{.State.Running}} {{.State.StartedAt}}' kdw-kube-apiserver 2>/dev/null || true)
    case "$state" in
    "true "*) ;;
    *) return 0 ;;
    esac
    # 2026-12-03T12:41:25.794993429Z: the form busybox's date reads too.
    date -u -d "$(echo "${state#true }" | sed 's/T/ /; s/\..*//; s/Z$//')" +%s
}

case "$1" in
up)
    kdw_write_files
    ;;
roll)
    kdw_write_files
    started=$(apiserver_started)
    if [ -z "$started" ]; then
        echo "$KDW_NODE: encryption configuration ($KDW_PHASE) written; the apiserver does not run, it reads it when it starts"
        exit 0
    fi
    if [ "$(stat -c %Y "$config")" -lt "$started" ]; then
        echo "$KDW_NODE: the apiserver already reads the encryption configuration ($KDW_PHASE)"
        exit 0
    fi
    step_aside_kube_vip
    docker restart --time 30 kdw-kube-apiserver >/dev/null
    wait_healthy kube-apiserver "https://127.0.0.1:$KDW_PORT/readyz" 180 --cacert "$KDW_ETC/control-plane/ca.pem"
    echo "$KDW_NODE: the apiserver reads the encryption configuration ($KDW_PHASE)"
    ;;
down)
    rm -f "$config"
    ;;
esac

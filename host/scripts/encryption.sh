# The apiserver's encryption configuration on a controller: which key encrypts Secrets at rest and which keys read,
# one phase of a key rotation at a time. `up` writes it (a new controller, before its apiserver first starts); `roll`
# writes it and returns once the running apiserver uses it: its caller rolls one controller at a time. The apiserver
# reloads the file by itself (--encryption-provider-config-automatic-reload, within a minute) and reports the sha256 of
# what it loaded in its metrics; `roll` waits for the file's. An apiserver started without automatic reload (by an
# earlier version of this program, until its control plane rolls) reads the file only when it starts: `roll` restarts
# it, its kube-vip stepping aside, unless it started after the file was last written. A run killed anywhere between
# the write and the wait does the same again on the next `roll`. `down` removes the file and the monitor's identity.
# Environment: KDW_NODE KDW_ETC KDW_PORT KDW_PHASE (the rotation's phase, for the messages)
set -eu
config="$KDW_ETC/control-plane/encryption-config.yaml"
monitor="$KDW_ETC/encryption-monitor"
# Seconds to wait for the apiserver to load the file: its check comes every minute, and a loaded host is slower.
reload_limit=180

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

reloads_automatically() {
    docker inspect --format '{{join .Args " "}}' kdw-kube-apiserver 2>/dev/null |
        grep -q -- '--encryption-provider-config-automatic-reload=true'
}

# The apiserver's metrics line naming the hash of the encryption configuration it uses; nothing if it cannot be read.
loaded_config_info() {
    curl --silent --fail --max-time 5 --cacert "$KDW_ETC/control-plane/ca.pem" --cert "$monitor/client.pem" \
        --key "$monitor/client-key.pem" "https://127.0.0.1:$KDW_PORT/metrics" 2>/dev/null |
        grep '^apiserver_encryption_config_controller_last_config_info{' || true
}

wait_loaded() {
    want="hash=\"sha256:$(sha256sum "$config" | cut -d' ' -f1)\""
    start=$(date +%s)
    until loaded_config_info | grep -qF "$want"; do
        elapsed=$(($(date +%s) - start))
        if [ "$elapsed" -ge "$reload_limit" ]; then
            echo "$KDW_NODE ($(hostname)): the apiserver has not loaded the encryption configuration ($KDW_PHASE," \
                "$want) after ${elapsed}s; it reports: $(loaded_config_info)" >&2
            echo "its last log lines about it:" >&2
            docker logs --tail 300 kdw-kube-apiserver 2>&1 | grep -i "encryption" | tail -10 >&2 || true
            echo "The file stays in place; \`pulumi up\` waits again." >&2
            return 1
        fi
        sleep 2
    done
    echo "$KDW_NODE: the apiserver uses the encryption configuration ($KDW_PHASE) after $(($(date +%s) - start))s"
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
    if reloads_automatically; then
        wait_loaded
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
    rm -rf "$config" "$monitor"
    ;;
esac

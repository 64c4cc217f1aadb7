# For the scripts that restart a controller's apiserver (control-plane.sh, encryption.sh): the wait for a component's
# health, and kube-vip stepping aside meanwhile.

wait_healthy() { # component, URL, seconds, curl options...
    component=$1 url=$2 limit=$3
    shift 3
    start=$(date +%s)
    until curl --silent --fail --max-time 5 "$@" "$url" >/dev/null 2>&1; do
        elapsed=$(($(date +%s) - start))
        if [ "$elapsed" -ge "$limit" ]; then
            echo "$KDW_NODE ($(hostname)): $component not healthy at $url after ${elapsed}s; its last log lines:" >&2
            docker logs --tail 30 "kdw-$component" >&2 2>&1 || true
            return 1
        fi
        sleep 1
    done
    echo "$component healthy after $(($(date +%s) - start))s"
}

# On a roll, this controller's kube-vip steps aside while the apiserver behind it restarts: it hands the API's virtual
# IP over to another controller (lib-vip-handover.sh) before the apiserver stops, instead of holding the address while
# this apiserver is down. It starts again however the roll ends, also when a roll killed before left it stopped.
step_aside_kube_vip() {
    docker inspect kdw-kube-vip >/dev/null 2>&1 || return 0
    trap 'docker start kdw-kube-vip >/dev/null' EXIT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    kdw_vip_hand_over
}

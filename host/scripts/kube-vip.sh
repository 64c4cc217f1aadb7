# Runs kube-vip on this controller as a container that Docker restarts with the host. The kube-vip instances compete
# for a Lease through their own controller's apiserver; the holder puts the API's virtual IP on the interface that
# carries the host's address and announces it by ARP. `up` (and `roll`, the same on a running controller: its caller
# rolls one controller at a time, so that a holder that stops hands the address to another) returns once the API
# answers on the virtual IP.
# A running kube-vip that holds the address hands it over to another controller before it stops (lib-vip-handover.sh),
# and so does the host when it shuts down (the hook `up` installs).
# Environment: the layout (KDW_PROFILE KDW_HOME KDW_ETC KDW_UNITS ...), KDW_IMAGE KDW_NODE KDW_HOST_IP KDW_VIP
#              KDW_PORT KDW_LEASE KDW_KUBE_VIP_ARGS (the flags, space separated)
set -eu
name=kdw-kube-vip
dir="$KDW_ETC/kube-vip"

# "<interface> <prefix length>" of the address this host is reached at.
host_interface() {
    ip -o -4 addr show | awk -v ip="$KDW_HOST_IP" '{ split($4, a, "/"); if (a[1] == ip) { print $2, a[2]; exit } }'
}

# Prints the host's network (a.b.c.d/n) and fails unless the virtual IP is a usable address on it. No `^` or `%` in
# the awk program: busybox awk may be built without math support.
vip_network() { # prefix length
    awk -v ip="$KDW_HOST_IP" -v vip="$KDW_VIP" -v prefix="$1" '
        function num(a,  p) { split(a, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
        function octet(n, d) { n = int(n / d); return n - int(n / 256) * 256 }
        BEGIN {
            size = 1; for (i = prefix; i < 32; i++) size *= 2
            net = int(num(ip) / size) * size; v = num(vip)
            printf "%d.%d.%d.%d/%d\n", octet(net, 16777216), octet(net, 65536), octet(net, 256), octet(net, 1), prefix
            if (v < net || v >= net + size) exit 1
            if (size > 2 && (v == net || v == net + size - 1)) exit 1
        }'
}

# Stops kube-vip so that it gives up the Lease and the address, and removes the address if a killed kube-vip left it.
stop_kube_vip() {
    docker stop --time 5 "$name" >/dev/null 2>&1 || true
    docker rm -f "$name" >/dev/null 2>&1 || true
    ip -o -4 addr show | awk -v vip="$KDW_VIP/32" '$4 == vip { print $2 }' | while read -r dev; do
        ip addr del "$KDW_VIP/32" dev "$dev"
    done
}

wait_for_vip() {
    url="https://$KDW_VIP:$KDW_PORT/readyz"
    i=0
    while [ "$i" -lt 120 ]; do
        if curl --silent --fail --max-time 3 --cacert "$dir/ca.pem" "$url" >/dev/null 2>&1; then
            echo "the API answers on $KDW_VIP after ${i}s"
            return 0
        fi
        i=$((i + 1))
        sleep 1
    done
    echo "the API does not answer on $KDW_VIP after 120s; kube-vip's last log lines:" >&2
    docker logs --tail 30 "$name" >&2 || true
    return 1
}

case "$1" in
up|roll)
    found=$(host_interface)
    if [ -z "$found" ]; then
        echo "no interface of $KDW_NODE has its address $KDW_HOST_IP" >&2
        exit 1
    fi
    interface=${found% *}
    if ! network=$(vip_network "${found#* }"); then
        echo "kube-dumb-way:apiServerVip $KDW_VIP is not a host address of $KDW_NODE's network $network ($interface):" \
            "ARP announces an address only on the hosts' own network; choose an unused address in it." >&2
        exit 1
    fi
    kdw_write_files
    # Recorded before kube-vip runs: for the sweep after an interrupted run, the address to remove; for a hand-over, the
    # Lease that says who holds it.
    echo "$KDW_VIP" > "$dir/address"
    echo "$KDW_VIP $KDW_PORT $KDW_LEASE $KDW_NODE" > "$dir/handover"
    kdw_vip_hand_over
    stop_kube_vip
    # kube-vip reads its kubeconfig at /etc/kubernetes/admin.conf whatever its flags say (this one is its own identity),
    # talks to the local apiserver (kubernetes_addr), and announces the address every second instead of every 3 s: a
    # new holder's first announcement is what moves clients over to it.
    # shellcheck disable=SC2086 # the flags are meant to split into words
    docker run --detach --name "$name" --restart always --network host --cap-add NET_ADMIN --cap-add NET_RAW \
        --volume "$dir/kube-vip.kubeconfig:/etc/kubernetes/admin.conf:ro" \
        --env "kubernetes_addr=127.0.0.1:$KDW_PORT" --env vip_arpRate=1000 \
        "$KDW_IMAGE" $KDW_KUBE_VIP_ARGS "--interface=$interface" >/dev/null
    wait_for_vip
    kdw_vip_install_shutdown_hook
    ;;
down)
    # A controller that leaves a running cluster (a smaller control plane) hands the address over as on a roll, while
    # its apiserver still answers (its kube-vip goes first); when every controller goes (a destroy) no other takes the
    # Lease, so the wait for one is short.
    # shellcheck disable=SC2034 # read by kdw_vip_hand_over (lib-vip-handover.sh)
    KDW_VIP_TAKEOVER_SECONDS=10
    kdw_vip_remove_shutdown_hook
    kdw_vip_hand_over
    stop_kube_vip
    # A second pass for files that vanish under the first (busybox's rm fails on them).
    rm -rf "$dir" 2>/dev/null || rm -rf "$dir"
    ;;
esac

# Installs and runs a worker's node components: containerd + runc + CNI for pods, kubelet, kube-proxy, and the local
# load balancer that takes node traffic to every apiserver; then waits until they are healthy (containerd answers, no
# service keeps exiting, the Node is Ready, kube-proxy is healthy) and fails with the culprit's log otherwise.
# `up` starts by removing what an earlier, interrupted run may have left; `down` removes every trace (lib-cleanup.sh).
# `roll` is `up` on a running worker, which its caller has drained (and uncordons once the Node is Ready again): it
# keeps the node's state (images, the kubelet's folder) and restarts the services on the new binaries and files.
# The routes, masquerade rule and kernel settings pods need are the host's pod-routes step's (kdw-routes.sh).
# Environment: the layout (KDW_PROFILE KDW_HOME KDW_ETC KDW_DATA KDW_RUN KDW_KUBELET_DIR KDW_LOGS KDW_UNITS
#              KDW_BOOTLOCAL KDW_CLUSTER_CIDR), KDW_NODE KDW_API_PORT KDW_SERVICE_CIDR KDW_BINARIES KDW_CNI_PLUGINS
#              KDW_SERVICES (start order)
set -eu
health_timeout=120
worker_etc="$KDW_ETC/worker"
boot_step="$KDW_HOME/boot.d/50-worker"
# Service addresses are virtual: kube-proxy translates every packet for a port a service has, before these chains. A
# packet still addressed to the service range (a port no service has) must not go to the default gateway, where
# whatever answers there (a proxy, say) would pass for the service. This host's own packets are refused (filter
# OUTPUT). Pods' packets are dropped in mangle's FORWARD, which comes after the translation and before the filter
# table: there, kube-router's NetworkPolicy chain is always first and accepts whatever a policy allows, so a rule of
# ours in filter's FORWARD would never see them (REJECT is the filter table's only).
service_range_output="-d $KDW_SERVICE_CIDR -m comment --comment kdw-service-range -j REJECT"
service_range_forward="-d $KDW_SERVICE_CIDR -m comment --comment kdw-service-range -j DROP"

# Puts a program in place by renaming a copy over it: a running program is replaced, never written into (and
# boot2docker's busybox has no `install`).
put_program() { # source destination
    cp "$1" "$2.kdw-new"
    chmod 0755 "$2.kdw-new"
    mv -f "$2.kdw-new" "$2"
}

install_binaries() {
    mkdir -p "$KDW_HOME/bin" "$KDW_HOME/cni/bin"
    for binary in $KDW_BINARIES; do
        put_program "$KDW_HOME/stage/$binary" "$KDW_HOME/bin/$binary"
    done
    for plugin in $KDW_CNI_PLUGINS; do
        put_program "$KDW_HOME/stage/cni/$plugin" "$KDW_HOME/cni/bin/$plugin"
    done
}

# The service range's rules as shell commands, each added (first in its chain) unless there; a cluster made before
# refused pods' packets in filter's FORWARD, where kube-router's chain came first: that rule goes.
service_range_commands() {
    echo "iptables -D FORWARD $service_range_output 2>/dev/null || true"
    echo "iptables -C OUTPUT $service_range_output 2>/dev/null || iptables -I OUTPUT 1 $service_range_output"
    echo "iptables -t mangle -C FORWARD $service_range_forward 2>/dev/null ||" \
        "iptables -t mangle -I FORWARD 1 $service_range_forward"
}

# The service range's rules at boot; on boot2docker also the services, which systemd starts elsewhere.
write_boot_step() {
    {
        service_range_commands
        if [ "$KDW_PROFILE" = boot2docker ]; then
            for service in $KDW_SERVICES; do
                echo "$KDW_HOME/bin/kdw-service start $service \$(cat $worker_etc/$service.cmd)"
            done
        fi
    } > "$boot_step"
}

start_services() {
    if [ "$KDW_PROFILE" = systemd ]; then systemctl daemon-reload; fi
    for service in $KDW_SERVICES; do
        if [ "$KDW_PROFILE" = systemd ]; then
            systemctl enable "kdw-$service.service" >/dev/null 2>&1
            systemctl restart "kdw-$service.service"
        else
            # Stopped first, so that a roll restarts it on its new binary; a fresh log, so that the exits counted
            # below are this run's.
            "$KDW_HOME/bin/kdw-service" stop "$service"
            [ ! -f "$KDW_LOGS/$service.log" ] || mv -f "$KDW_LOGS/$service.log" "$KDW_LOGS/$service.log.1"
            # shellcheck disable=SC2046 # the command line is meant to split into words
            "$KDW_HOME/bin/kdw-service" start "$service" $(cat "$worker_etc/$service.cmd")
        fi
    done
}

service_log() { # name: its last lines
    if [ "$KDW_PROFILE" = systemd ]; then
        journalctl --unit "kdw-$1.service" --lines 30 --no-pager --output cat 2>&1 || true
    else
        tail -n 30 "$KDW_LOGS/$1.log" 2>&1 || true
    fi
}

fail() { # service, what is wrong
    echo "$KDW_NODE ($(hostname)): $2; the last log lines of kdw-$1:" >&2
    service_log "$1" >&2
    exit 1
}

exits() { # name: how often the service exited since it was started
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl show --property NRestarts --value "kdw-$1.service" 2>/dev/null || echo 0
    else
        grep -c '^kdw-service: exited' "$KDW_LOGS/$1.log" 2>/dev/null || true
    fi
}

api_get() { # path, as this node, through the local load balancer
    # The user agent keeps the answer compact (the apiserver pretty-prints JSON for curl).
    curl --silent --fail --max-time 5 --user-agent kdw-worker --cacert "$worker_etc/ca.pem" \
        --cert "$worker_etc/kubelet.pem" --key "$worker_etc/kubelet-key.pem" "https://127.0.0.1:$KDW_API_PORT$1"
}

node_ready() {
    api_get "/api/v1/nodes/$KDW_NODE" 2>/dev/null | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'
}

proxy_healthy() {
    curl --silent --fail --max-time 5 --output /dev/null http://127.0.0.1:10256/healthz
}

wait_healthy() {
    start=$(date +%s)
    elapsed=0
    until "$KDW_HOME/bin/crictl" --runtime-endpoint "unix://$KDW_RUN/containerd/containerd.sock" --timeout 2s version \
        >/dev/null 2>&1; do
        elapsed=$(($(date +%s) - start))
        [ "$elapsed" -lt 30 ] || fail containerd "containerd does not answer on $KDW_RUN/containerd/containerd.sock after ${elapsed}s"
        sleep 1
    done
    until node_ready && proxy_healthy; do
        for service in $KDW_SERVICES; do
            count=$(exits "$service")
            [ "${count:-0}" -lt 3 ] || fail "$service" "kdw-$service keeps exiting ($count restarts)"
        done
        elapsed=$(($(date +%s) - start))
        if [ "$elapsed" -ge "$health_timeout" ]; then
            node_ready || fail kubelet "the Node $KDW_NODE is not Ready after ${elapsed}s"
            fail kube-proxy "kube-proxy is not healthy (http://127.0.0.1:10256/healthz) after ${elapsed}s"
        fi
        sleep 2
    done
    echo "$KDW_NODE: containerd answers, Node Ready, kube-proxy healthy after $(($(date +%s) - start))s"
}

case "$1" in
up | roll)
    # `up` may find what an interrupted run left, and starts from nothing; `roll` keeps the node's state.
    [ "$1" = roll ] || kdw_remove_node
    kdw_write_files
    install_binaries
    mkdir -p "$KDW_DATA/containerd" "$KDW_RUN/containerd" "$KDW_DATA/cni" "$KDW_KUBELET_DIR" "$KDW_LOGS"
    eval "$(service_range_commands)"
    write_boot_step
    # The kubelet renews its client certificate itself and keeps it under pki/; a certificate sent now (a re-issue by
    # the program, a new CA) must win over one it renewed before, so it starts again from its kubeconfig's.
    rm -f "$KDW_KUBELET_DIR/pki/kubelet-client-"*
    start_services
    wait_healthy
    ;;
down)
    kdw_remove_node
    ;;
esac

# Installs and runs a worker's node components: containerd + runc + CNI for pods, kubelet, kube-proxy, and the local
# load balancer that takes node traffic to every apiserver. `down` stops them and removes every trace.
# The routes, masquerade rule and kernel settings pods need are the host's pod-routes step's (kdw-routes.sh).
# Environment: KDW_PROFILE KDW_HOME KDW_ETC KDW_DATA KDW_RUN KDW_KUBELET_DIR KDW_SERVICE_CIDR
#              KDW_BINARIES KDW_CNI_PLUGINS KDW_SERVICES (start order; stopped in reverse)
set -eu
worker_etc="$KDW_ETC/worker"
boot_step="$KDW_HOME/boot.d/50-worker"
# Service addresses are virtual: kube-proxy translates every packet for a port a service has, before these chains. A
# packet still addressed to the service range (a port no service has) is refused here instead of going to the default
# gateway, where whatever answers there (a proxy, say) would pass for the service.
service_range="-d $KDW_SERVICE_CIDR -m comment --comment kdw-service-range -j REJECT"

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
        put_program "$KDW_HOME/stage/$plugin" "$KDW_HOME/cni/bin/$plugin"
    done
}

# Ends every process whose command line starts with the given program (busybox has no pkill).
kill_program() { # path
    for proc in /proc/[0-9]*; do
        case "$(tr '\000' ' ' <"$proc/cmdline" 2>/dev/null)" in
        "$1 "*) kill "${proc#/proc/}" 2>/dev/null || true ;;
        esac
    done
}

service_range_rule() { # -C | -I | -D, chain
    if [ "$1" = -I ]; then set -- -I "$2" 1; fi
    # shellcheck disable=SC2086 # the rule is meant to split into words
    iptables "$@" $service_range 2>/dev/null
}

# The service range's rules at boot; on boot2docker also the services, which systemd starts elsewhere.
write_boot_step() {
    {
        for chain in FORWARD OUTPUT; do
            echo "iptables -C $chain $service_range 2>/dev/null || iptables -I $chain 1 $service_range"
        done
        if [ "$KDW_PROFILE" = boot2docker ]; then
            for service in $KDW_SERVICES; do
                echo "$KDW_HOME/bin/kdw-service start $service \$(cat $worker_etc/$service.cmd)"
            done
        fi
    } > "$boot_step"
}

start_services() {
    for service in $KDW_SERVICES; do
        if [ "$KDW_PROFILE" = systemd ]; then
            systemctl daemon-reload
            systemctl enable "kdw-$service.service" >/dev/null 2>&1
            systemctl restart "kdw-$service.service"
        else
            "$KDW_HOME/bin/kdw-service" stop "$service"
            # shellcheck disable=SC2046 # the command line is meant to split into words
            "$KDW_HOME/bin/kdw-service" start "$service" $(cat "$worker_etc/$service.cmd")
        fi
    done
}

stop_services() {
    reversed=""
    for service in $KDW_SERVICES; do reversed="$service $reversed"; done
    for service in $reversed; do
        if [ "$service" = containerd ] && [ -x "$KDW_HOME/bin/crictl" ]; then
            # Pods outlive containerd (their shims keep running), so remove them first.
            timeout 60 "$KDW_HOME/bin/crictl" --runtime-endpoint "unix://$KDW_RUN/containerd/containerd.sock" \
                rmp --all --force >/dev/null 2>&1 || true
        fi
        if [ "$KDW_PROFILE" = systemd ]; then
            systemctl disable --now "kdw-$service.service" >/dev/null 2>&1 || true
            rm -f "/etc/systemd/system/kdw-$service.service"
        elif [ -x "$KDW_HOME/bin/kdw-service" ]; then
            "$KDW_HOME/bin/kdw-service" stop "$service"
        fi
    done
    if [ "$KDW_PROFILE" = systemd ]; then systemctl daemon-reload; fi
    kill_program "$KDW_HOME/bin/containerd-shim-runc-v2"
}

# Unmounts the directory and everything below it, deepest first. The directory itself can be a mount point: where / is
# not a shared mount (boot2docker), the kubelet bind-mounts its root directory onto itself to make it one.
unmount_below() { # directory
    # /proc/mounts shows paths with symbolic links resolved (boot2docker's /var/lib/boot2docker is one).
    resolved=$(cd "$1" 2>/dev/null && pwd -P) || return 0
    awk -v dir="$resolved" '$2 == dir || index($2, dir "/") == 1 { print $2 }' /proc/mounts | sort -r | while read -r mountpoint; do
        umount -l "$mountpoint" 2>/dev/null || true
    done
}

case "$1" in
up)
    kdw_write_files
    install_binaries
    mkdir -p "$KDW_DATA/containerd" "$KDW_RUN/containerd" "$KDW_DATA/cni" "$KDW_KUBELET_DIR"
    for chain in FORWARD OUTPUT; do service_range_rule -C "$chain" || service_range_rule -I "$chain"; done
    write_boot_step
    # The kubelet renews its client certificate itself and keeps it under pki/; a certificate sent now (a re-issue by
    # the program, a new CA) must win over one it renewed before, so it starts again from its kubeconfig's.
    rm -f "$KDW_KUBELET_DIR/pki/kubelet-client-"*
    start_services
    echo "node components running: $KDW_SERVICES"
    ;;
down)
    stop_services
    if [ -x "$KDW_HOME/bin/kube-proxy" ]; then
        "$KDW_HOME/bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
    fi
    for chain in FORWARD OUTPUT; do
        while service_range_rule -C "$chain"; do service_range_rule -D "$chain"; done
    done
    ip link del cni0 2>/dev/null || true
    unmount_below "$KDW_KUBELET_DIR"
    unmount_below "$KDW_RUN/containerd"
    unmount_below "$KDW_DATA/containerd"
    rm -rf "$boot_step" "$worker_etc" "$KDW_KUBELET_DIR" "$KDW_DATA/containerd" "$KDW_RUN/containerd" "$KDW_DATA/cni" \
        "$KDW_HOME/cni"
    for binary in $KDW_BINARIES; do rm -f "$KDW_HOME/bin/$binary"; done
    ;;
esac

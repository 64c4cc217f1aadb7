# Removes what the cluster can have put on a host, found on the host itself rather than taken from Pulumi's state (see
# README.md in this folder: an interrupted create is dropped from the state, so its own `down` never runs).
# Prepended to worker.sh, whose `down` (and `up`, before it installs) removes a worker's node components, and to
# host.sh, whose `down` removes everything. Each function finishes the job from any partial state.
# Environment: KDW_PROFILE KDW_HOME KDW_ETC KDW_DATA KDW_RUN KDW_KUBELET_DIR KDW_LOGS KDW_UNITS KDW_BOOTLOCAL
#              KDW_CLUSTER_CIDR

# Our systemd units: kdw-*.service files that say they are kube-dumb-way's (a host may have kdw-* units of its own).
kdw_units() {
    for unit in "$KDW_UNITS"/kdw-*.service; do
        if [ -f "$unit" ] && grep -q '^Description=kube-dumb-way' "$unit"; then echo "${unit##*/}"; fi
    done
}

# The services installed here, by name: systemd units or kdw-service's pid files. A worker's node services are all
# of them but the boot hook (kdw-boot) and the pod routes' loop (routes), which are the host's.
kdw_services() {
    if [ "$KDW_PROFILE" = systemd ]; then
        for unit in $(kdw_units); do
            service=${unit#kdw-}
            echo "${service%.service}"
        done
    else
        for pidfile in "$KDW_RUN"/*.pid; do
            [ -f "$pidfile" ] || continue
            service=${pidfile##*/}
            echo "${service%.pid}"
        done
    fi
}
kdw_node_services() {
    for service in $(kdw_services); do
        case "$service" in boot | routes) ;; *) echo "$service" ;; esac
    done
}

kdw_stop_service() { # name
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl disable --now "kdw-$1.service" >/dev/null 2>&1 || true
        rm -f "$KDW_UNITS/kdw-$1.service"
    elif [ -x "$KDW_HOME/bin/kdw-service" ]; then
        # It ends the supervisor's process group (the supervisor and its command) and waits for it.
        "$KDW_HOME/bin/kdw-service" stop "$1"
    elif [ -f "$KDW_RUN/$1.pid" ]; then
        # A pid file whose supervisor program is gone already: the group by hand (no `--`: dash's kill refuses it).
        kill -TERM "-$(cat "$KDW_RUN/$1.pid")" 2>/dev/null || true
        rm -f "$KDW_RUN/$1.pid"
    fi
}

# Ends every process whose command line starts with the folder's path (busybox, on boot2docker, has no pkill), as given
# or with symbolic links resolved: containerd starts its shims by its own resolved path, and boot2docker's
# /var/lib/boot2docker is a link to /mnt/sda1/var/lib/boot2docker. `-KILL` after 2 s for those still there.
kdw_kill_under() { # folder
    resolved=$(cd "$1" 2>/dev/null && pwd -P) || resolved=$1
    for signal in TERM KILL; do
        found=
        for process in /proc/[0-9]*; do
            case "$(tr '\000' ' ' 2>/dev/null < "$process/cmdline")" in
            "$1/"* | "$resolved/"*) kill "-$signal" "${process#/proc/}" 2>/dev/null && found=1 ;;
            esac
        done
        [ -n "$found" ] && [ "$signal" = TERM ] || return 0
        sleep 2
    done
}

# Pods, through containerd while it answers (so that CNI releases their addresses), then whatever runc still runs.
kdw_remove_pods() {
    socket="$KDW_RUN/containerd/containerd.sock"
    if [ -x "$KDW_HOME/bin/crictl" ] && [ -S "$socket" ]; then
        timeout 60 "$KDW_HOME/bin/crictl" --runtime-endpoint "unix://$socket" rmp --all --force >/dev/null 2>&1 || true
    fi
}

kdw_kill_leftovers() {
    if [ -x "$KDW_HOME/bin/runc" ]; then
        for root in "$KDW_RUN"/runc/*; do
            [ -d "$root" ] || continue
            for id in $("$KDW_HOME/bin/runc" --root "$root" list -q 2>/dev/null); do
                "$KDW_HOME/bin/runc" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
            done
        done
    fi
    # Pod cgroups the kubelet made: systemd's slice (which stops what is left in it), or cgroupfs folders.
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl stop kubepods.slice >/dev/null 2>&1 || true
    fi
    for group in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
        if [ -d "$group" ]; then find "$group" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
    done
    # Anything still running from our binaries (containerd's shims outlive containerd), but the host's own programs
    # (the route loop, run as `/bin/sh $KDW_HOME/bin/kdw-routes`, and kdw-service's supervisors, `sh -c`, do not match).
    kdw_kill_under "$KDW_HOME"
}

# kube-proxy's, the kubelet's and kube-router's KUBE-* chains, the CNI plugins' CNI-* chains, rules that jump to them
# from other chains, and our own rules (commented kdw-...). Docker's and everyone else's rules stay. Then kube-router's
# ipsets (KUBE-SRC-*, KUBE-DST-*), which its rules no longer hold.
kdw_remove_iptables() {
    for tool in iptables ip6tables; do
        command -v "$tool" >/dev/null 2>&1 || continue
        for table in filter nat mangle raw; do
            rules=$("$tool" -t "$table" -S 2>/dev/null) || continue
            printf '%s\n' "$rules" | grep -E '^-A ' | grep -vE '^-A (KUBE|CNI)-' |
                grep -E -- '-j (KUBE|CNI)-|--comment "?kdw-' | while read -r rule; do
                    # The rule as iptables printed it, quotes included: eval splits it back into its words.
                    eval "\"\$tool\" -t \"\$table\" -D ${rule#-A }" 2>/dev/null || true
                done
            chains=$(printf '%s\n' "$rules" | grep -oE '^-N (KUBE|CNI)-[^ ]+' | cut -d' ' -f2)
            for chain in $chains; do "$tool" -t "$table" -F "$chain" 2>/dev/null || true; done
            for chain in $chains; do "$tool" -t "$table" -X "$chain" 2>/dev/null || true; done
        done
    done
    command -v ipset >/dev/null 2>&1 || return 0
    ipset list -n 2>/dev/null | grep -E '^(inet6:)?KUBE-(SRC|DST)-' | while read -r set; do
        ipset destroy "$set" 2>/dev/null || true
    done
}

# rm -rf that finishes its job when files vanish under it. busybox's rm (boot2docker) fails on a file it listed that is
# gone by the time it removes it ("can't remove '...': No such file or directory"), where GNU's rm ignores that; a
# process that was still writing or removing there a moment ago (a pod's last writes, a stopped step's rm) can cause
# it. What is left after a failed pass is removed again, and only the last pass's errors count.
kdw_remove_tree() { # path...
    rm -rf "$@" 2>/dev/null || rm -rf "$@" 2>/dev/null || rm -rf "$@"
}

# Unmounts the folder and everything below it, deepest first. The folder itself can be a mount point: where / is not
# a shared mount (boot2docker), the kubelet bind-mounts its root directory onto itself to make it one.
kdw_unmount_below() { # folder
    # /proc/mounts shows paths with symbolic links resolved (boot2docker's /var/lib/boot2docker is one).
    resolved=$(cd "$1" 2>/dev/null && pwd -P) || return 0
    awk -v dir="$resolved" '$2 == dir || index($2, dir "/") == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r mountpoint; do
            umount -l "$mountpoint" 2>/dev/null || true
        done
}

# A worker's node components: services (the kubelet first, so that it starts no pod again; containerd after the pods),
# pods, their network, mounts and files. The binaries staged by the copy steps stay: they are those steps' own; so do
# the host's programs (kdw-boot, kdw-service, kdw-routes), which the host's and the pod routes' steps put there.
kdw_remove_node() {
    for service in $(kdw_node_services); do
        [ "$service" = containerd ] || kdw_stop_service "$service"
    done
    kdw_remove_pods
    kdw_stop_service containerd
    if [ "$KDW_PROFILE" = systemd ]; then systemctl daemon-reload; fi
    kdw_kill_leftovers
    if [ -x "$KDW_HOME/bin/kube-proxy" ]; then
        "$KDW_HOME/bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
    fi
    kdw_remove_iptables
    ip link del cni0 2>/dev/null || true
    for dir in "$KDW_KUBELET_DIR" "$KDW_RUN" "$KDW_DATA"; do kdw_unmount_below "$dir"; done
    kdw_remove_tree "$KDW_HOME/boot.d/50-worker" "$KDW_ETC/worker" "$KDW_KUBELET_DIR" "$KDW_DATA/containerd" "$KDW_DATA/cni" \
        "$KDW_RUN/containerd" "$KDW_RUN/runc" "$KDW_HOME/cni" /var/log/pods /var/log/containers
    for program in "$KDW_HOME"/bin/*; do
        case "${program##*/}" in kdw-boot | kdw-service | kdw-routes) ;; *) rm -f "$program" ;; esac
    done
}

kdw_remove_containers() {
    command -v docker >/dev/null 2>&1 || return 0
    if ! names=$(docker ps --all --format '{{.Names}}' 2>&1); then
        echo "$(hostname): cannot list Docker's containers to remove the cluster's (kdw-*): $names" >&2
        return 1
    fi
    for name in $names; do
        case "$name" in kdw-*) docker rm --force "$name" >/dev/null ;; esac
    done
}

# The pod routes' loop and what it keeps (routes, masquerade rule), then any route into the pod range it may not have
# recorded (the range itself, if anyone routes it, is not ours). busybox's ip (boot2docker) has no `show root`.
kdw_remove_routes() {
    if [ -x "$KDW_HOME/bin/kdw-routes" ]; then
        "$KDW_HOME/bin/kdw-routes" down || true
    fi
    kdw_stop_service routes
    ip route show | awk -v range="$KDW_CLUSTER_CIDR" '
        function num(a,  p) { split(a, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
        BEGIN { split(range, r, "/"); size = 1; for (i = r[2]; i < 32; i++) size *= 2; low = num(r[1]) }
        $1 != "default" && $1 != range {
            split($1, d, "/"); n = num(d[1]); bits = (d[2] == "" ? 32 : d[2])
            if (n >= low && n < low + size && bits + 0 >= r[2] + 0) print $1
        }' | while read -r destination; do
        ip route del "$destination" 2>/dev/null || true
    done
}

# The API's virtual IP, if this controller held it when kube-vip was killed (kube-vip.sh records the address).
kdw_remove_vip() {
    [ -f "$KDW_ETC/kube-vip/address" ] || return 0
    vip=$(cat "$KDW_ETC/kube-vip/address")
    ip -o -4 addr show | awk -v vip="$vip/32" '$4 == vip { print $2 }' | while read -r dev; do
        ip addr del "$vip/32" dev "$dev" 2>/dev/null || true
    done
}

kdw_remove_boot_hook() {
    if [ "$KDW_PROFILE" = systemd ]; then
        if kdw_units | grep -qx kdw-boot.service; then
            systemctl disable kdw-boot.service >/dev/null 2>&1 || true
            rm -f "$KDW_UNITS/kdw-boot.service"
        fi
        # Links left to units that are gone (a unit file removed before it was disabled).
        for link in "$KDW_UNITS"/*.wants/kdw-*.service; do
            if [ -L "$link" ] && [ ! -e "$link" ]; then rm -f "$link"; fi
        done
        systemctl daemon-reload
    else
        [ ! -f "$KDW_BOOTLOCAL" ] || sed -i '/# kdw-boot$/d' "$KDW_BOOTLOCAL"
        # The hand-over of the API's address at shutdown, in Tiny Core's shutdown script (lib-vip-handover.sh).
        [ ! -f /opt/shutdown.sh ] || sed -i '/# kdw-vip-handover$/d' /opt/shutdown.sh
    fi
}

# Steps of an interrupted run may still be running here: a killed CLI closes their SSH sessions, which does not stop
# them. They are stopped first, and waited for, so that none re-makes what the sweep removes: every step holding its
# script's lock (lib-step.sh), then, by their command lines, steps that hold none (sent by a version of the program
# before the locks). Steps run as `sh -c <script> kdw up` (or `roll`); their command lines are longer than pkill reads,
# so the last words of every sh's are read here.
kdw_stop_interrupted_steps() {
    kdw_stop_steps
    for process in /proc/[0-9]*; do
        comm=
        read -r comm 2>/dev/null < "$process/comm" || continue
        [ "$comm" = sh ] || continue
        case "$(tr '\0' ' ' 2>/dev/null < "$process/cmdline" | tail -c 10)" in
        *" kdw up " | *" kdw roll ") kill -TERM "${process#/proc/}" 2>/dev/null || true ;;
        esac
    done
}

# Everything: containers (and the virtual IP kube-vip held), node components, routes, the boot hook, and every folder
# of ours.
kdw_sweep_host() {
    kdw_stop_interrupted_steps
    kdw_remove_containers
    kdw_remove_vip
    kdw_remove_node
    kdw_remove_routes
    kdw_remove_boot_hook
    for dir in "$KDW_HOME" "$KDW_ETC"; do kdw_unmount_below "$dir"; done
    kdw_remove_tree "$KDW_HOME" "$KDW_ETC" "$KDW_DATA" "$KDW_RUN" "$KDW_KUBELET_DIR" "$KDW_LOGS"
}

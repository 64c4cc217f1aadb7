#!/bin/sh
# kdw-routes keeps this host's part of the pod network as the table written by `pulumi up` says: a route to each other
# worker's pod range via that worker, the pod-egress masquerade rule on workers, and the kernel settings pods need.
# A route lost to an interface flap or a hand edit comes back within one pass; `pulumi up` still decides the table.
#
#   kdw-routes apply TABLE   one pass: add what is missing, remove what is stale; exit 1 if the host could not be
#                            brought to the table. A host that already matches it is only read, never written.
#   kdw-routes loop TABLE    a pass now and every 10 s, for ever (run by the kdw-routes service)
#   kdw-routes up            apply $KDW_ETC/pod-routes and keep it applied: the service, enabled at boot
#   kdw-routes down          stop the service and remove it, our routes, our masquerade rule and the table
#
# Table lines: `route <pod range> <via address>`, `masquerade <cluster range>`; `#` starts a comment.
# Ours are told apart from everything else on the host: routes by TABLE.applied, the record of the routes last applied
# (they also carry the protocol number 201, for `ip route show proto 201` where ip is iproute2), the masquerade rule by
# its comment. Other routes and rules are never touched, but for a route of someone else's to one of our pod ranges,
# which ours replaces.
# `up` and `down` read KDW_PROFILE (systemd or boot2docker), KDW_HOME and KDW_ETC from the environment.
set -u
PROTO=201
INTERVAL=10
COMMENT=kdw-pod-egress
nl='
'

say() {
    echo "kdw-routes: $*"
}

# ip_forward lets workers pass traffic between hosts and pods; bridge-nf-call-iptables makes bridged pod traffic go
# through kube-proxy's rules. Written only when they differ.
keep_kernel_settings() {
    [ -e /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null || true
    for setting in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables; do
        file=/proc/sys/$setting
        if [ -e "$file" ] && [ "$(cat "$file")" != 1 ]; then
            if echo 1 > "$file"; then say "set $setting=1"; else failed=1; fi
        fi
    done
}

# `<range> <via>` lines, sorted: the routes a table lists, and every route through a gateway on the host now.
routes_in() { # table
    [ -f "$1" ] || return 0
    awk '$1 == "route" { print $2, $3 }' "$1" | sort -u
}
routes_on_host() {
    ip route show | awk '$1 != "default" {
        via = ""
        for (i = 2; i < NF; i++) if ($i == "via") via = $(i + 1)
        if (via == "") next
        dst = $1
        if (dst !~ /\//) dst = dst "/32"
        print dst, via
    }' | sort -u
}

record() { # file routes: writes the `route` lines of the routes when they differ from the file's
    lines=$(echo "$2" | awk 'NF == 2 { print "route", $1, $2 }' | sort -u)
    [ -f "$1" ] && [ "$lines" = "$(cat "$1")" ] && return 0
    echo "$lines" > "$1.kdw-new" && mv -f "$1.kdw-new" "$1"
}

# Ours are the routes of the record, the table last applied here: busybox's ip (boot2docker) neither shows nor
# filters the protocol number, so routes are compared by range and gateway, and only recorded ones are ever removed.
reconcile_routes() { # table record
    want=$(routes_in "$1")
    ours=$(routes_in "$2")
    have=$(routes_on_host)
    # Written before any change, so that a pass cut short still knows every route it may have added.
    record "$2" "$ours$nl$want" || failed=1
    left=""
    while read -r range via; do
        [ -n "$range" ] || continue
        case "$nl$want" in *"$nl$range "*) continue ;; esac # still wanted, or replaced below by the wanted route
        case "$nl$have$nl" in *"$nl$range $via$nl"*) ;; *) continue ;; esac # gone already
        if ip route del "$range" via "$via"; then
            say "removed $range via $via"
        else
            failed=1
            left="$left$nl$range $via"
        fi
    done <<EOF
$ours
EOF
    while read -r range via; do
        [ -n "$range" ] || continue
        case "$nl$have$nl" in *"$nl$range $via$nl"*) continue ;; esac
        if ip route replace "$range" via "$via" proto "$PROTO"; then say "added $range via $via"; else failed=1; fi
    done <<EOF
$want
EOF
    # Stale routes that could not be removed stay on the record, to be tried again.
    record "$2" "$want$left" || failed=1
}

# Pods' traffic leaving the cluster range is masqueraded; traffic between pods keeps its source address.
reconcile_masquerade() { # table
    want=$(awk '$1 == "masquerade" { print $2; exit }' "$1")
    if ! command -v iptables >/dev/null; then
        [ -z "$want" ] && return 0
        echo "kdw-routes: iptables is missing, so pods cannot reach beyond the cluster" >&2
        failed=1
        return 0
    fi
    kept=""
    rules=$(iptables -w -t nat -S POSTROUTING) || { failed=1; return 0; }
    while read -r rule; do
        case "$rule" in *"--comment $COMMENT "*) ;; *) continue ;; esac
        case "$rule" in
        *" -s $want "*)
            if [ -n "$want" ] && [ -z "$kept" ]; then kept=1; continue; fi
            ;;
        esac
        # The rule as `iptables -S` prints it, `-A POSTROUTING ...`, deleted word for word.
        set -f
        # shellcheck disable=SC2086 # the rule is meant to split into words
        set -- $rule
        set +f
        shift 2
        if iptables -w -t nat -D POSTROUTING "$@"; then say "removed masquerade rule $*"; else failed=1; fi
    done <<EOF
$rules
EOF
    if [ -n "$want" ] && [ -z "$kept" ]; then
        if iptables -w -t nat -A POSTROUTING -s "$want" ! -d "$want" -m comment --comment "$COMMENT" -j MASQUERADE; then
            say "added masquerade rule for pods of $want"
        else
            failed=1
        fi
    fi
}

apply() { # table
    failed=0
    if [ ! -r "$1" ]; then
        echo "kdw-routes: no table at $1" >&2
        return 1
    fi
    keep_kernel_settings
    reconcile_routes "$1" "$1.applied"
    reconcile_masquerade "$1"
    [ "$failed" = 0 ] || echo "kdw-routes: the host does not match $1 yet" >&2
    [ "$failed" = 0 ]
}

loop() { # table
    while :; do
        apply "$1" || true
        sleep "$INTERVAL"
    done
}

# The service that runs the loop: a systemd unit, or on boot2docker kdw-service started from the boot hook.
unit=/etc/systemd/system/kdw-routes.service
service_stop() {
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl stop kdw-routes.service 2>/dev/null || true
    elif [ -x "$KDW_HOME/bin/kdw-service" ]; then
        "$KDW_HOME/bin/kdw-service" stop routes
    fi
}
service_start() { # table
    if [ "$KDW_PROFILE" = systemd ]; then
        cat > "$unit.kdw-new" <<UNIT
[Unit]
Description=kube-dumb-way: keep this host's pod routes
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$KDW_HOME/bin/kdw-routes loop $1
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
        if cmp -s "$unit.kdw-new" "$unit"; then rm -f "$unit.kdw-new"; else mv -f "$unit.kdw-new" "$unit"; fi
        systemctl daemon-reload
        systemctl enable kdw-routes.service >/dev/null 2>&1
        systemctl start kdw-routes.service
    else
        echo "$KDW_HOME/bin/kdw-service start routes $KDW_HOME/bin/kdw-routes loop $1" > "$KDW_HOME/boot.d/60-routes"
        "$KDW_HOME/bin/kdw-service" start routes "$KDW_HOME/bin/kdw-routes" loop "$1"
    fi
}

case "${1:-}" in
apply)
    apply "$2"
    ;;
loop)
    loop "$2"
    ;;
up)
    # The service is stopped while this pass runs, so that two passes never race; it starts again either way.
    service_stop
    status=0
    apply "$KDW_ETC/pod-routes" || status=$?
    service_start "$KDW_ETC/pod-routes"
    exit "$status"
    ;;
down)
    service_stop
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl disable kdw-routes.service >/dev/null 2>&1 || true
        if [ -f "$unit" ]; then
            rm -f "$unit"
            systemctl daemon-reload
        fi
    fi
    rm -f "$KDW_HOME/boot.d/60-routes"
    failed=0
    reconcile_routes /dev/null "$KDW_ETC/pod-routes.applied"
    reconcile_masquerade /dev/null
    [ "$failed" = 0 ] || exit 1
    rm -f "$KDW_ETC/pod-routes" "$KDW_ETC/pod-routes.applied"
    ;;
*)
    echo "usage: kdw-routes apply TABLE | loop TABLE | up | down" >&2
    exit 2
    ;;
esac

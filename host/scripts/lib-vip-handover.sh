# Moves the API's virtual IP off this controller without a moment when no host answers on it, for the scripts that
# stop this controller's kube-vip while its apiserver still serves (kube-vip.sh on a roll; control-plane.sh and
# encryption.sh, before their apiserver restarts).
#
# A kube-vip that stops gives up its Lease and drops the address at once, but another controller's kube-vip takes the
# Lease only at its next try (every 1 s, with jitter) through its own apiserver, and then announces the address: on a
# loaded machine, seconds in which clients' packets to the address reach no one (EHOSTUNREACH). So this host puts the
# address back as soon as kube-vip has dropped it and answers on it, through its own apiserver, until the Lease names
# another holder; then it waits for that holder's announcements (every second) to move the clients over, and only then
# drops the address. Both hosts answer meanwhile, and either serves the API.
# kube-vip.sh records what this needs in $KDW_ETC/kube-vip/handover: the address, the apiserver's port, the Lease's
# name and this controller's identity in it. Its client certificate there may read that Lease.
# Its variables are prefixed kdw_ho_: sh has no local variables, and the scripts that use it have their own.
# Environment: KDW_ETC

# How long the new holder's announcements have to move clients over before this host drops the address: two of them.
KDW_VIP_ANNOUNCED_SECONDS=2
# How long another controller may take to take the Lease before this host drops the address anyway.
KDW_VIP_TAKEOVER_SECONDS=30

# The Lease's holder, as this controller's apiserver says; nothing if it cannot be read.
kdw_vip_lease_holder() { # port, lease
    curl --silent --fail --max-time 3 --cacert "$KDW_ETC/kube-vip/ca.pem" --cert "$KDW_ETC/kube-vip/client.pem" \
        --key "$KDW_ETC/kube-vip/client-key.pem" \
        "https://127.0.0.1:$1/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/$2" 2>/dev/null |
        sed -n 's/.*"holderIdentity": *"\([^"]*\)".*/\1/p'
}

# The interface that carries the address on this host, if any.
kdw_vip_interface() { # address
    ip -o -4 addr show | awk -v vip="$1/32" '$4 == vip { print $2; exit }'
}

# Stops kube-vip; if it held the address, hands it over as above. Returns once no kube-vip runs here and the address
# is elsewhere (or, after KDW_VIP_TAKEOVER_SECONDS without a new holder, nowhere: the caller goes on either way).
kdw_vip_hand_over() {
    kdw_ho_handover="$KDW_ETC/kube-vip/handover"
    if [ ! -f "$kdw_ho_handover" ]; then
        docker stop --time 5 kdw-kube-vip >/dev/null 2>&1 || true
        return 0
    fi
    read -r kdw_ho_vip kdw_ho_port kdw_ho_lease kdw_ho_identity < "$kdw_ho_handover"
    kdw_ho_interface=$(kdw_vip_interface "$kdw_ho_vip")
    kdw_ho_holder=
    [ -z "$kdw_ho_interface" ] || kdw_ho_holder=$(kdw_vip_lease_holder "$kdw_ho_port" "$kdw_ho_lease")
    docker stop --time 5 kdw-kube-vip >/dev/null 2>&1 || true
    [ -n "$kdw_ho_interface" ] || return 0
    # Only a holder whose apiserver answers (it reads the Lease, which names this controller) keeps the address. An
    # address here that the Lease does not give this controller is a leftover (a hand-over killed part-way): it goes,
    # so that this host does not answer on it while its apiserver restarts.
    if [ "$kdw_ho_holder" != "$kdw_ho_identity" ]; then
        ip addr del "$kdw_ho_vip/32" dev "$kdw_ho_interface" 2>/dev/null || true
        return 0
    fi
    ip addr add "$kdw_ho_vip/32" dev "$kdw_ho_interface" 2>/dev/null || true
    kdw_ho_waited=0
    kdw_ho_holder=$(kdw_vip_lease_holder "$kdw_ho_port" "$kdw_ho_lease")
    while [ -z "$kdw_ho_holder" ] || [ "$kdw_ho_holder" = "$kdw_ho_identity" ]; do
        if [ "$kdw_ho_waited" -ge "$KDW_VIP_TAKEOVER_SECONDS" ]; then
            echo "no other controller took the Lease $kdw_ho_lease within ${kdw_ho_waited}s; $kdw_ho_vip dropped here" >&2
            ip addr del "$kdw_ho_vip/32" dev "$kdw_ho_interface" 2>/dev/null || true
            return 0
        fi
        sleep 1
        kdw_ho_waited=$((kdw_ho_waited + 1))
        kdw_ho_holder=$(kdw_vip_lease_holder "$kdw_ho_port" "$kdw_ho_lease")
    done
    sleep "$KDW_VIP_ANNOUNCED_SECONDS"
    ip addr del "$kdw_ho_vip/32" dev "$kdw_ho_interface" 2>/dev/null || true
    echo "the API's address $kdw_ho_vip handed over to $kdw_ho_holder (Lease taken within ${kdw_ho_waited}s)"
}

# A controller that shuts down hands the address over too, before Docker stops its containers. Docker stops them all at
# once, etcd in a moment, and kube-vip's release of the Lease goes through the apiserver to etcd: on a loaded machine
# the release was lost, and the others took the address only when the Lease expired (11.6 s without an answer in CI,
# 2026-12-05; 1.0-1.4 s when it lands). So kdw-vip-handover (written beside kube-vip's files) runs kdw_vip_hand_over
# at shutdown, while the apiserver and etcd still run: on systemd from the ExecStop of a unit ordered after
# docker.service (units stop in the reverse order), only when the system is stopping (not when the unit is removed);
# on boot2docker from Tiny Core's shutdown script, which runs first at shutdown (boot2docker's stops Docker) and lives
# in memory, so that the boot hook puts the line back at every boot.
# Its variables are prefixed kdw_sh_. (KDW_TC_SHUTDOWN is set only by the unit tests.)
KDW_TC_SHUTDOWN=${KDW_TC_SHUTDOWN:-/opt/shutdown.sh}

kdw_vip_install_shutdown_hook() {
    kdw_sh_program="$KDW_ETC/kube-vip/kdw-vip-handover"
    if [ "$KDW_PROFILE" = systemd ]; then
        kdw_sh_unit="$KDW_UNITS/kdw-vip-handover.service"
        cat > "$kdw_sh_unit.new" <<UNIT
[Unit]
Description=kube-dumb-way: hand the API's virtual IP over at shutdown, before Docker stops the control plane
After=docker.service

[Service]
Type=oneshot
RemainAfterExit=true
ExecStart=/bin/true
ExecStop=/bin/sh -c '[ "\$\$(systemctl is-system-running)" != stopping ] || [ ! -f $kdw_sh_program ] || sh $kdw_sh_program'
TimeoutStopSec=45

[Install]
WantedBy=multi-user.target
UNIT
        if cmp -s "$kdw_sh_unit.new" "$kdw_sh_unit"; then
            rm -f "$kdw_sh_unit.new"
        else
            mv -f "$kdw_sh_unit.new" "$kdw_sh_unit"
            systemctl daemon-reload
        fi
        systemctl enable kdw-vip-handover.service >/dev/null 2>&1
        systemctl start kdw-vip-handover.service
    else
        mkdir -p "$KDW_HOME/boot.d"
        cat > "$KDW_HOME/boot.d/65-vip-handover" <<HOOK
# Puts the hand-over of the API's virtual IP into Tiny Core's shutdown script (lib-vip-handover.sh), first.
mkdir -p "$(dirname "$KDW_TC_SHUTDOWN")"
{ echo '#!/bin/sh'
  echo '[ ! -f $kdw_sh_program ] || sh $kdw_sh_program # kdw-vip-handover'
  grep -v -e '^#!' -e '# kdw-vip-handover\$' $KDW_TC_SHUTDOWN 2>/dev/null; } > $KDW_TC_SHUTDOWN.kdw-new
chmod 0755 $KDW_TC_SHUTDOWN.kdw-new && mv -f $KDW_TC_SHUTDOWN.kdw-new $KDW_TC_SHUTDOWN
HOOK
        sh "$KDW_HOME/boot.d/65-vip-handover"
    fi
}

kdw_vip_remove_shutdown_hook() {
    if [ "$KDW_PROFILE" = systemd ]; then
        [ -f "$KDW_UNITS/kdw-vip-handover.service" ] || return 0
        systemctl disable --now kdw-vip-handover.service >/dev/null 2>&1 || true
        rm -f "$KDW_UNITS/kdw-vip-handover.service"
        systemctl daemon-reload
    else
        rm -f "$KDW_HOME/boot.d/65-vip-handover"
        [ ! -f "$KDW_TC_SHUTDOWN" ] || sed -i '/# kdw-vip-handover$/d' "$KDW_TC_SHUTDOWN"
    fi
}

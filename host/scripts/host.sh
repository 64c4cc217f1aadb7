# Prepares a host for the cluster (directories, kernel settings, the boot hook that re-applies state after a reboot,
# and on boot2docker the kdw-service supervisor) and, on `down`, removes everything the cluster can have left on it,
# whatever Pulumi's state says (lib-cleanup.sh). The pod network's kernel settings are kdw-routes' (see kdw-routes.sh),
# which keeps them, not only sets them once.
# `up` also records which machine this is (KDW_MACHINE, the id the stack gave the machine) in $KDW_HOME/machine:
# the next `pulumi up` reads it back (host/identity.ts), and a host without it, or with another, is a new machine at
# that address (the old one lost), on which everything is installed afresh.
# Environment: the layout (KDW_PROFILE KDW_HOME KDW_ETC KDW_DATA KDW_RUN KDW_KUBELET_DIR KDW_LOGS KDW_UNITS
#              KDW_BOOTLOCAL KDW_CLUSTER_CIDR), and KDW_SSH_USER and KDW_MACHINE for `up`. Stdin: files
#              (lib-files.sh), for `up`.
set -eu

install_boot_hook() {
    mkdir -p "$KDW_HOME/boot.d" "$KDW_HOME/bin"
    cat > "$KDW_HOME/bin/kdw-boot" <<BOOT
#!/bin/sh
# Re-applies what does not survive a reboot: every file in boot.d runs in name order.
for step in "$KDW_HOME"/boot.d/*; do
    [ -f "\$step" ] && sh "\$step"
done
exit 0
BOOT
    chmod 0755 "$KDW_HOME/bin/kdw-boot"
    if [ "$KDW_PROFILE" = systemd ]; then
        cat > "$KDW_UNITS/kdw-boot.service" <<UNIT
[Unit]
Description=kube-dumb-way: re-apply routes and settings at boot
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=$KDW_HOME/bin/kdw-boot
RemainAfterExit=true

[Install]
WantedBy=multi-user.target
UNIT
        systemctl daemon-reload
        systemctl enable kdw-boot.service >/dev/null 2>&1
    else
        [ -f "$KDW_BOOTLOCAL" ] || printf '#!/bin/sh\n' > "$KDW_BOOTLOCAL"
        chmod 0755 "$KDW_BOOTLOCAL"
        grep -q 'kdw-boot' "$KDW_BOOTLOCAL" || echo "$KDW_HOME/bin/kdw-boot # kdw-boot" >> "$KDW_BOOTLOCAL"
    fi
}

kernel_settings() {
    cat > "$KDW_HOME/boot.d/10-kernel" <<'KERNEL'
modprobe overlay 2>/dev/null || true
swapoff -a 2>/dev/null || true
KERNEL
    sh "$KDW_HOME/boot.d/10-kernel"
}

case "$1" in
up)
    case "$KDW_PROFILE" in
        systemd|boot2docker) ;;
        *) echo "unsupported host: no systemd and not boot2docker; set kube-dumb-way:hostProfile to say which it is" >&2; exit 1 ;;
    esac
    mkdir -p "$KDW_HOME" "$KDW_ETC" "$KDW_DATA" "$KDW_RUN"
    chmod 0755 "$KDW_HOME"
    chmod 0700 "$KDW_ETC"
    # Binaries are copied over SFTP as the SSH user, then installed as root.
    mkdir -p "$KDW_HOME/stage"
    chown "$KDW_SSH_USER" "$KDW_HOME/stage"
    kdw_write_files
    install_boot_hook
    kernel_settings
    # Last: a host that has it is prepared. Readable by the SSH user, who reads it back.
    echo "$KDW_MACHINE" > "$KDW_HOME/machine.new"
    chmod 0644 "$KDW_HOME/machine.new"
    mv "$KDW_HOME/machine.new" "$KDW_HOME/machine"
    ;;
down)
    kdw_sweep_host
    ;;
esac

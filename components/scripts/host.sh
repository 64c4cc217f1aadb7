# Prepares a host for the cluster (directories, kernel settings, the boot hook that re-applies state after a reboot,
# and on boot2docker the kdw-service supervisor) and, on `down`, removes everything the cluster left on it.
# The pod network's kernel settings are kdw-routes' (see kdw-routes.sh), which keeps them, not only sets them once.
# Environment: KDW_PROFILE KDW_HOME KDW_ETC KDW_DATA KDW_RUN KDW_SSH_USER. Stdin: files (lib-files.sh).
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
        cat > /etc/systemd/system/kdw-boot.service <<UNIT
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
        bootlocal=/var/lib/boot2docker/bootlocal.sh
        [ -f "$bootlocal" ] || printf '#!/bin/sh\n' > "$bootlocal"
        chmod 0755 "$bootlocal"
        grep -q 'kdw-boot' "$bootlocal" || echo "$KDW_HOME/bin/kdw-boot # kdw-boot" >> "$bootlocal"
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
    ;;
down)
    # The pod routes' own step removes them first; this covers a run that never got to it.
    if [ -x "$KDW_HOME/bin/kdw-routes" ]; then
        "$KDW_HOME/bin/kdw-routes" down
    fi
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl disable kdw-boot.service >/dev/null 2>&1 || true
        rm -f /etc/systemd/system/kdw-boot.service
        systemctl daemon-reload || true
    elif [ -f /var/lib/boot2docker/bootlocal.sh ]; then
        sed -i '/# kdw-boot$/d' /var/lib/boot2docker/bootlocal.sh
    fi
    rm -rf "$KDW_HOME" "$KDW_ETC" "$KDW_DATA" "$KDW_RUN"
    ;;
esac

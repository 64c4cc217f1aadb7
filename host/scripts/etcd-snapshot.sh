# The etcd snapshots of one controller (the EtcdSnapshots step): installs kdw-etcd-snapshot with its settings and
# starts its service, which takes the first snapshot at once and then one every KDW_SNAPSHOT_EVERY_MINUTES (none when
# 0: only the snapshots before rolls). `down` stops and removes the service and the program; the snapshots stay on
# the host until the host's own `down`.
# Environment: KDW_HOME KDW_ETC. Stdin: the program, its settings, the object store's secret key and CA (lib-files.sh).
set -eu
program="$KDW_HOME/bin/kdw-etcd-snapshot"
export KDW_SNAPSHOT_SETTINGS="$KDW_ETC/etcd-snapshot"
case "$1" in
up)
    kdw_write_files
    "$program" up
    ;;
down)
    if [ -x "$program" ] && [ -f "$KDW_SNAPSHOT_SETTINGS/settings" ]; then
        "$program" down
    fi
    rm -rf "$program" "$KDW_SNAPSHOT_SETTINGS"
    ;;
esac

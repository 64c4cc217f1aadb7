# Before a roll of etcd or the control plane: a snapshot of etcd (kdw-etcd-snapshot, which the EtcdSnapshots step
# installs on every controller with its settings). The roll goes ahead only with one, taken, verified and copied to the
# object store when one is set; a snapshot that cannot be taken because no member answers does not stop it, since the
# roll may be what brings etcd back.
kdw_snapshot_before_roll() {
    kdw_snap_settings="$KDW_ETC/etcd-snapshot"
    [ -f "$kdw_snap_settings/settings" ] || return 0
    # shellcheck source=/dev/null # the program's folder, from its settings (a subshell: they set nothing here)
    kdw_snap_program=$(. "$kdw_snap_settings/settings" && echo "$KDW_HOME/bin/kdw-etcd-snapshot")
    kdw_snap_status=0
    KDW_SNAPSHOT_SETTINGS="$kdw_snap_settings" "$kdw_snap_program" take before-roll || kdw_snap_status=$?
    case "$kdw_snap_status" in
    0) ;;
    3) echo "$KDW_NODE: no etcd member gave a snapshot before this roll; rolling on, as the roll may be what mends etcd" ;;
    *)
        echo "$KDW_NODE: not rolling: the etcd snapshot before the roll failed (above). Mend what it names (the object" \
            "store in kube-dumb-way:etcdSnapshotStore, the disk under the snapshots), or remove that key to keep" \
            "snapshots on the controllers only, then run pulumi up again." >&2
        exit 1
        ;;
    esac
}

# Rebuilds this controller's etcd member from a snapshot in the object store, for a cluster that has lost its quorum
# (etcdRestoreSnapshot). Two phases, each a step on every controller:
#
# - `data` (before the members' own steps): stops the control plane and the etcd member (and keeps Docker from starting
#   them again at a reboot meanwhile), downloads the snapshot and checks its sha256 and its pages, sets the member's
#   data aside (never removed: $KDW_DATA/etcd.before-restore-<time>), and restores the snapshot as this member of a new
#   cluster (a new cluster token, so no member of the old cluster can talk to it; revisions bumped and marked
#   compacted, so that clients that watched the old cluster list again instead of missing changes). Then starts the
#   member again where it ran (a blank host has none yet: its etcd step starts it).
# - `finish` (after every member's step): waits for the new cluster's quorum, records the restore in etcd, removes the
#   apiservers' endpoint leases of the old cluster (each apiserver writes its own again) and starts the control plane.
#
# Each phase is done once per restore (KDW_RESTORE_ID, from the snapshot's key and sha256): a run killed anywhere runs
# again from where it stopped. A controller made again later (its machine lost) while the setting stays does not restore:
# the cluster that answers with quorum records that this restore is done, and the member joins it as any new one.
# Environment: KDW_NODE KDW_ETC KDW_DATA KDW_IMAGE KDW_CLUSTER_ID KDW_RESTORE_PHASE (data or finish) KDW_RESTORE_KEY
#              KDW_RESTORE_SHA256 KDW_RESTORE_ID KDW_ETCD_INITIAL_CLUSTER KDW_ETCD_PEER_URL KDW_ETCD_SELF
#              KDW_ETCD_ENDPOINTS KDW_ETCD_TOKEN KDW_PORT
set -eu
work="$KDW_ETC/etcd-restore"
data="$KDW_DATA/etcd"
marker="$KDW_DATA/etcd.restored"
control_plane="kdw-kube-apiserver kdw-kube-controller-manager kdw-kube-scheduler"
# The key in etcd that says which restore made the running cluster (outside /registry: the apiserver never reads it).
restored_key=/kube-dumb-way/restored
wait_timeout=180

etcdctl_at() { # endpoints, etcdctl arguments (lib-etcdctl.sh)
    kdw_etcdctl_at "$work" "$@"
}

# What the cluster that answers with quorum says of the restores: the id of the one that made it; nothing when no
# cluster answers with quorum.
recorded_restore() {
    etcdctl_at "$KDW_ETCD_ENDPOINTS" get --print-value-only "$restored_key" 2>/dev/null || true
}

# Stops a container and keeps Docker from starting it at the host's next boot, until start_again.
hold() { # container...
    for container in "$@"; do
        docker inspect "$container" >/dev/null 2>&1 || continue
        docker update --restart no "$container" >/dev/null
        docker stop --time 30 "$container" >/dev/null
    done
}
start_again() { # container...
    for container in "$@"; do
        docker inspect "$container" >/dev/null 2>&1 || continue
        docker update --restart always "$container" >/dev/null
        docker start "$container" >/dev/null
    done
}

restore_data() {
    if [ "$(cat "$marker" 2>/dev/null || true)" = "$KDW_RESTORE_ID" ] && [ -d "$data/member" ]; then
        echo "$KDW_NODE: etcd already restored here from $KDW_RESTORE_KEY"
        start_again kdw-etcd
        return 0
    fi
    if [ "$(recorded_restore)" = "$KDW_RESTORE_ID" ]; then
        echo "$KDW_NODE: the cluster answering with quorum was restored from $KDW_RESTORE_KEY already; this controller" \
            "(a machine made since) joins it as a new member instead"
        return 0
    fi
    # shellcheck disable=SC2086 # the names split into words
    hold $control_plane kdw-etcd
    mkdir -p "$work/snapshots"
    snapshot="$work/snapshots/$KDW_RESTORE_SHA256.db"
    if [ ! -f "$snapshot" ]; then
        KDW_SNAPSHOT_SETTINGS="$work" sh "$work/kdw-etcd-snapshot" fetch "$KDW_RESTORE_KEY" "$KDW_RESTORE_SHA256" "$snapshot"
    fi
    if [ -d "$data" ]; then
        aside="$KDW_DATA/etcd.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
        mv "$data" "$aside"
        echo "$KDW_NODE: the member's data set aside in $aside (remove it once the restored cluster is what you want)"
    fi
    rm -rf "$KDW_DATA/etcd.restoring"
    docker run --rm --volume "$work/snapshots:/snapshots:ro" --volume "$KDW_DATA:/data" "$KDW_IMAGE" \
        etcdutl snapshot restore "/snapshots/$KDW_RESTORE_SHA256.db" --data-dir /data/etcd.restoring \
        --name "$KDW_NODE" --initial-cluster "$KDW_ETCD_INITIAL_CLUSTER" --initial-cluster-token "$KDW_ETCD_TOKEN" \
        --initial-advertise-peer-urls "$KDW_ETCD_PEER_URL" --bump-revision 1000000000 --mark-compacted >/dev/null
    mv "$KDW_DATA/etcd.restoring" "$data"
    ! id etcd >/dev/null 2>&1 || chown -R etcd:etcd "$data"
    chmod 0700 "$data"
    echo "$KDW_CLUSTER_ID" > "$KDW_DATA/etcd.cluster"
    echo "$KDW_RESTORE_ID" > "$marker"
    echo "$KDW_NODE: etcd restored from $KDW_RESTORE_KEY (sha256 $KDW_RESTORE_SHA256) as a member of a new cluster"
    start_again kdw-etcd
}

finish() {
    start=$(date +%s)
    until etcdctl_at "$KDW_ETCD_SELF" endpoint health >/dev/null 2>&1; do
        if [ $(($(date +%s) - start)) -ge "$wait_timeout" ]; then
            echo "$KDW_NODE: the restored etcd cluster has no quorum after ${wait_timeout}s; the members' health:" >&2
            etcdctl_at "$KDW_ETCD_ENDPOINTS" endpoint health >&2 2>&1 || true
            exit 1
        fi
        sleep 2
    done
    etcdctl_at "$KDW_ETCD_SELF" put "$restored_key" "$KDW_RESTORE_ID" >/dev/null
    # The old cluster's apiservers wrote these; each running apiserver writes its own again within seconds.
    etcdctl_at "$KDW_ETCD_SELF" del --prefix /registry/masterleases/ >/dev/null
    # shellcheck disable=SC2086 # the names split into words
    start_again $control_plane
    if docker inspect kdw-kube-apiserver >/dev/null 2>&1; then
        wait_healthy kube-apiserver "https://127.0.0.1:$KDW_PORT/readyz" "$wait_timeout" --cacert "$KDW_ETC/control-plane/ca.pem"
    fi
    echo "$KDW_NODE: the control plane runs on the restored etcd cluster"
}

case "$1" in
up)
    kdw_write_files
    case "$KDW_RESTORE_PHASE" in
    data) restore_data ;;
    finish) finish ;;
    esac
    ;;
down)
    # The setting was removed: the restore's files go; the data it set aside stays (see above).
    rm -rf "$work"
    ;;
esac

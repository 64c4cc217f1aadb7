# Runs this controller's etcd member as a container that Docker restarts with the host, and checks that it answers.
# `roll` changes a running member: it refuses when restarting this member would cost the cluster its quorum (another
# member is already unhealthy), restarts it like `up`, then waits until it is healthy in a cluster with quorum.
# `up` never starts over another cluster's data (see claim_data). An `up` without data of its own while the other
# members already run the cluster (this controller's machine was lost and made again) joins that cluster as kubeadm
# does: the dead member that was here is removed, this one added as a learner, started, and promoted to a voting
# member once it has caught up (join_running_cluster, promote_if_learner). `down` removes the member and keeps its
# data, which the host's own `down` (the last step on the host to go) removes.
# A roll takes a snapshot of etcd first (lib-etcd-snapshot.sh).
# Environment: KDW_NODE KDW_ETC KDW_DATA KDW_IMAGE KDW_ETCD_ARGS (the flags, space separated)
#              KDW_ETCD_SELF (this member's client URL) KDW_ETCD_ENDPOINTS (every member's, comma separated)
#              KDW_CLUSTER_ID (the sha256 of the etcd CA's public key, PEM: which cluster the member belongs to)
set -eu
name=kdw-etcd
# How long a member may take to answer, to be healthy again, to catch up: a member of a cluster being made answers only
# once a quorum of its fellows runs, and on a busy machine their starts can be minutes apart. A member that crashes
# is found sooner, by its restarts.
wait_timeout=180
data="$KDW_DATA/etcd"
# Which cluster the data belongs to, beside it (etcd warns of files it does not know in its data folder).
owner="$KDW_DATA/etcd.cluster"

# A host used before by another cluster (a stack removed without `pulumi destroy`, machines adopted by a new stack)
# may keep that cluster's etcd data; etcd would serve it again, with the new certificates, as if it were this cluster:
# its objects, its nodes, its secrets under an encryption key this cluster does not have. So `up` refuses data it
# cannot tell is this cluster's, before it changes anything, and never removes it: it is somebody's data. A `roll`
# changes a member this cluster made, and records its owner (members made before the record was kept).
claim_data() {
    if [ "$1" = up ] && [ -d "$data/member" ]; then
        found=$(cat "$owner" 2>/dev/null || true)
        if [ "$found" != "$KDW_CLUSTER_ID" ]; then
            if [ -n "$found" ]; then
                whose="another cluster (its etcd CA's key digest is $found, this cluster's $KDW_CLUSTER_ID)"
            else
                whose="a cluster this program has no record of"
            fi
            echo "$KDW_NODE ($(hostname)): $data holds etcd data of $whose; not starting this cluster's member over" \
                "it. Nothing was changed on this host. If that data is no longer needed (a stack removed without" \
                "pulumi destroy, a host taken from an old cluster), remove it on the host: docker rm -f $name;" \
                "rm -rf $data $owner; then run pulumi up again. To keep it, run that cluster's own stack instead." >&2
            cat >/dev/null # the files on stdin, unread: the sender would see a broken pipe instead of this message
            exit 1
        fi
    fi
    mkdir -p "$KDW_DATA"
    echo "$KDW_CLUSTER_ID" > "$owner"
}

# The member answers its clients over TLS (a status needs no quorum: the other members may still be starting).
answers() {
    docker exec "$name" etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.pem \
        --cert=/etc/etcd/server.pem --key=/etc/etcd/server-key.pem --command-timeout=3s endpoint status >/dev/null 2>&1
}

wait_answers() {
    start=$(date +%s)
    until answers; do
        elapsed=$(($(date +%s) - start))
        restarts=$(docker inspect --format '{{.RestartCount}}' "$name" 2>/dev/null || echo 0)
        if [ "$elapsed" -ge "$wait_timeout" ] || [ "$restarts" -ge 3 ]; then
            echo "$KDW_NODE ($(hostname)): the etcd member does not answer on https://127.0.0.1:2379 after ${elapsed}s" \
                "($restarts restarts); its last log lines:" >&2
            docker logs --tail 30 "$name" >&2 2>&1 || true
            return 1
        fi
        sleep 1
    done
    echo "etcd member answers after $(($(date +%s) - start))s"
}

# How long etcdctl waits for an answer: 3 s, but for a change of members (see join_running_cluster).
etcdctl_timeout=3s
etcdctl_with() { # docker run or exec arguments that give etcdctl and /etc/etcd, then etcdctl arguments
    "$@" --cacert=/etc/etcd/ca.pem --cert=/etc/etcd/server.pem --key=/etc/etcd/server-key.pem \
        --dial-timeout=2s --command-timeout="$etcdctl_timeout"
}

# Whether etcdctl gave up waiting for an answer ("context deadline exceeded") or etcd gave up committing in time
# ("request timed out"): a change of members may have landed all the same, and etcd refuses it a second time.
timed_out() { # etcdctl's output
    case "$1" in *"context deadline exceeded"* | *"request timed out"*) return 0 ;; esac
    return 1
}

# etcdctl from the image, against the other members (this one may not run yet).
self_peer="${KDW_ETCD_SELF%:*}:2380"
others=$(echo "$KDW_ETCD_ENDPOINTS" | tr ',' '\n' | grep -v "^$KDW_ETCD_SELF\$" | tr '\n' ',' | sed 's/,$//')
etcdctl_others() {
    etcdctl_with docker run --rm --network host --volume "$KDW_ETC/etcd:/etc/etcd:ro" "$KDW_IMAGE" \
        etcdctl --endpoints="$others" "$@"
}

# This member's line of `member list` ("<id>, <started|unstarted>, <name>, <peer URLs>, <client URLs>, <is learner>"),
# found by its peer URL; empty when it is not a member.
own_member_line() { # member list output
    echo "$1" | awk -F', ' -v url="$self_peer" '$4 == url'
}

# How the member starts: `new` (with the others, the cluster made together) or `existing` (joining a running one).
cluster_state=new

# A member without data of its own, whose fellow members already serve a cluster, joins it. A member serves its clients
# only once it is in a cluster with quorum, so other members that answer mean a running cluster; none answering means
# one being made (or all lost: a restore's work). The member list needs quorum: a running cluster that has lost it
# cannot take a member in, and that is said, not worked around.
join_running_cluster() {
    # Data means a write-ahead log: a start refused before it wrote one (it took the member for a new cluster's) left none.
    [ -n "$others" ] && [ -z "$(ls -A "$data/member/wal" 2>/dev/null)" ] || return 0
    etcdctl_others endpoint status 2>/dev/null | grep -q . || return 0
    members=""
    i=0
    while [ "$i" -lt 30 ]; do
        if members=$(etcdctl_others member list 2>&1); then break; fi
        members=""
        i=$((i + 1))
        sleep 1
    done
    if [ -z "$members" ]; then
        echo "$KDW_NODE: the other etcd members answer but have no quorum, so this member (its data gone with its" \
            "machine) cannot rejoin them. Bring the other controllers back, then run pulumi up again; or, if they are" \
            "lost for good, rebuild etcd from a snapshot: set kube-dumb-way:etcdRestoreSnapshot (docs/recovery.md)." \
            "Their health:" >&2
        health_lines >&2
        exit 1
    fi
    line=$(own_member_line "$members")
    id=${line%%,*}
    # Its client URLs are published by the member itself once it runs: without them it never ran. (The name cannot
    # tell: the members a cluster is made with have theirs from --initial-cluster, and show as "started" before.)
    if [ -n "$line" ] && [ -z "$(echo "$line" | awk -F', ' '{ print $5 }')" ]; then
        # Never ran: a member of the cluster being made (it starts as one of them), or a learner an interrupted join
        # added (it starts as that learner).
        case "$line" in *", true") cluster_state=existing ;; esac
        [ "$cluster_state" = new ] || echo "$KDW_NODE: joining the running cluster as learner $id (added earlier)"
        return 0
    fi
    # A change of members is a commit by a majority: on a loaded machine it can take more than a read's 3 s (the cold CI
    # of 2026-12-05 saw a learner's addition time out at 3 s, load average 21). A timed-out change is looked for in the
    # member list before it is tried again.
    etcdctl_timeout=15s
    if [ -n "$line" ]; then
        # Ran before, with data that is gone: the member this controller's lost machine ran.
        echo "$KDW_NODE: removing member $id, which this controller ran before its machine was lost"
        until removed=$(etcdctl_others member remove "$id" 2>&1); do
            timed_out "$removed" || { echo "$KDW_NODE: removing member $id: $removed" >&2; exit 1; }
            # Gone from a list that was read: removed. A list that could not be read says nothing: tried again.
            if members=$(etcdctl_others member list 2>/dev/null) && ! echo "$members" | grep -q "^$id, "; then break; fi
            sleep 2
        done
    fi
    # etcd takes one learner at a time (--max-learners): a controller added beside this one (a control plane grown by
    # more than one) joins first, and this one once it has been promoted. And the leader takes a member in only once it
    # has been connected to every voting member for 5 s (strict reconfiguration check: "unhealthy cluster"), which a
    # member promoted a moment ago may not yet be.
    start=$(date +%s)
    until added=$(etcdctl_others member add "$KDW_NODE" --peer-urls="$self_peer" --learner 2>&1); do
        case "$added" in
        *"too many learner members"* | *"unhealthy cluster"*) ;;
        *)
            timed_out "$added" || { echo "$KDW_NODE: $added" >&2; exit 1; }
            line=$(own_member_line "$(etcdctl_others member list 2>/dev/null || true)")
            if [ -n "$line" ]; then
                echo "$KDW_NODE: joining the running cluster as learner ${line%%,*} (added, though the answer came late)"
                etcdctl_timeout=3s
                cluster_state=existing
                return 0
            fi
            ;;
        esac
        if [ $(($(date +%s) - start)) -ge "$wait_timeout" ]; then
            echo "$KDW_NODE: etcd does not take this member in after ${wait_timeout}s ($(echo "$added" | tail -n 1)):" \
                "another learner not yet promoted (its controller's etcd step says why), or a member the leader does" \
                "not reach. Run pulumi up again once they are healthy. Members:" >&2
            etcdctl_others member list >&2 2>&1 || true
            exit 1
        fi
        sleep 2
    done
    echo "$KDW_NODE: joining the running cluster as a learner: $(echo "$added" | head -n 1)"
    etcdctl_timeout=3s
    cluster_state=existing
}

# A member that joins starts with the cluster it joins as its initial cluster (etcd checks that it names the same
# members as the running cluster: not the stack's list when the control plane grows by more than one, or a member
# that moved to a new address is still listed at its old one until it is removed), itself by its own name.
initial_cluster_to_join() {
    etcdctl_others member list | awk -F', ' -v self="$self_peer" -v name="$KDW_NODE" '
        { n = $4 == self ? name : $3; list = list (NR > 1 ? "," : "") n "=" $4 }
        END { print list }'
}

# What a refused start left beside no write-ahead log is no member's data; a member that joins starts without it.
clear_unjoined_data() {
    [ "$cluster_state" = existing ] || return 0
    rm -rf "$data/member"
}

# A learner (this member after a join, or one whose promotion an interrupted run left undone) becomes a voting member
# once it has caught up with the leader: etcd refuses the promotion until then.
promote_if_learner() {
    [ -n "$others" ] || return 0
    line=$(own_member_line "$(etcdctl_others member list 2>/dev/null || true)")
    case "$line" in *", true") ;; *) return 0 ;; esac
    id=${line%%,*}
    start=$(date +%s)
    until out=$(etcdctl_others member promote "$id" 2>&1); do
        elapsed=$(($(date +%s) - start))
        if [ "$elapsed" -ge "$wait_timeout" ]; then
            echo "$KDW_NODE: learner $id not promoted after ${elapsed}s: $out" >&2
            exit 1
        fi
        sleep 2
    done
    echo "$KDW_NODE: learner $id promoted to a voting member after $(($(date +%s) - start))s"
}

# `endpoint health` reads through each member with a quorum read: healthy means up and in a cluster with quorum.
# Run from the image (the member itself may be down), one line per endpoint: "<url> is healthy: ..." or "is unhealthy".
health_lines() {
    etcdctl_with docker run --rm --network host --volume "$KDW_ETC/etcd:/etc/etcd:ro" "$KDW_IMAGE" \
        etcdctl --endpoints="$KDW_ETCD_ENDPOINTS" endpoint health 2>&1 || true
}

# Taking this member down must not take the quorum with it. A cluster without quorum has none to lose, and a cluster
# of one member cannot roll without a pause.
refuse_if_quorum_at_risk() {
    lines=$(health_lines)
    total=$(echo "$KDW_ETCD_ENDPOINTS" | tr ',' '\n' | grep -c .)
    healthy=$(echo "$lines" | grep -c ' is healthy' || true)
    others=$(echo "$lines" | grep ' is healthy' | grep -cv "^$KDW_ETCD_SELF " || true)
    quorum=$((total / 2 + 1))
    if [ "$total" -gt 1 ] && [ "$healthy" -ge "$quorum" ] && [ "$others" -lt "$quorum" ]; then
        echo "$KDW_NODE: not restarting this etcd member: $others of the other $((total - 1)) members are healthy and the" \
            "cluster needs $quorum to keep its quorum. Bring the unhealthy members back (their endpoint health below)," \
            "then run pulumi up again:" >&2
        echo "$lines" >&2
        exit 1
    fi
}

wait_healthy_with_quorum() {
    start=$(date +%s)
    until etcdctl_with docker exec "$name" etcdctl --endpoints=https://127.0.0.1:2379 endpoint health >/dev/null 2>&1; do
        elapsed=$(($(date +%s) - start))
        if [ "$elapsed" -ge "$wait_timeout" ]; then
            echo "$KDW_NODE: the etcd member is not healthy in a cluster with quorum ${elapsed}s after its restart;" \
                "the members' health and its last log lines:" >&2
            health_lines >&2
            docker logs --tail 30 "$name" >&2 2>&1 || true
            exit 1
        fi
        sleep 1
    done
    echo "$KDW_NODE: etcd member healthy, cluster has quorum, $(($(date +%s) - start))s after the restart"
}

case "$1" in
up | roll)
    claim_data "$1"
    # The certificates first: etcdctl needs them to ask the other members.
    kdw_write_files
    ;;
esac
[ "$1" != roll ] || refuse_if_quorum_at_risk
[ "$1" != roll ] || kdw_snapshot_before_roll
[ "$1" != up ] || join_running_cluster

# etcd runs as its own unprivileged user, which owns its data and its keys (CIS 1.1.11, 1.1.12). On boot2docker the
# account is gone after a reboot, but the container keeps running under its numeric ids.
etcd_user() {
    id etcd >/dev/null 2>&1 && return 0
    if command -v useradd >/dev/null 2>&1; then
        if grep -q '^etcd:' /etc/group; then group="-g etcd"; else group="--user-group"; fi
        # shellcheck disable=SC2086 # one or two words
        useradd --system $group --no-create-home --home-dir /nonexistent --shell /bin/false etcd
    elif command -v adduser >/dev/null 2>&1 && command -v addgroup >/dev/null 2>&1; then
        grep -q '^etcd:' /etc/group || addgroup -S etcd
        adduser -S -D -H -h /nonexistent -s /bin/false -G etcd etcd
    else
        # No account tools (a busybox built without them): the entries themselves, with the highest free system id.
        id=999
        while grep -q "^[^:]*:[^:]*:$id:" /etc/passwd /etc/group; do id=$((id - 1)); done
        grep -q '^etcd:' /etc/group || echo "etcd:x:$id:" >> /etc/group
        echo "etcd:x:$id:$(awk -F: '$1 == "etcd" { print $3 }' /etc/group):etcd:/nonexistent:/bin/false" >> /etc/passwd
    fi
}

case "$1" in
up|roll)
    # The image first, so that the member is down only for its restart; a stop, not a kill, so that a leader hands
    # its leadership over.
    docker image inspect "$KDW_IMAGE" >/dev/null 2>&1 || docker pull -q "$KDW_IMAGE" >/dev/null
    docker stop --time 30 "$name" >/dev/null 2>&1 || true
    docker rm -f "$name" >/dev/null 2>&1 || true
    clear_unjoined_data
    etcd_user
    mkdir -p "$data"
    chown -R etcd:etcd "$data" "$KDW_ETC/etcd"
    chmod 0700 "$data"
    args=$KDW_ETCD_ARGS
    if [ "$cluster_state" = existing ]; then
        args=$(echo "$args" | sed -e "s/--initial-cluster-state=new/--initial-cluster-state=existing/" \
            -e "s|--initial-cluster=[^ ]*|--initial-cluster=$(initial_cluster_to_join)|")
    fi
    # shellcheck disable=SC2086 # the flags are meant to split into words
    docker run --detach --name "$name" --restart always --network host --user "$(id -u etcd):$(id -g etcd)" \
        --volume "$KDW_ETC/etcd:/etc/etcd:ro" --volume "$data:/var/lib/etcd" \
        "$KDW_IMAGE" etcd $args >/dev/null
    wait_answers
    [ "$1" != up ] || promote_if_learner
    ;;
down)
    docker rm -f "$name" >/dev/null 2>&1 || true
    ;;
esac
[ "$1" != roll ] || wait_healthy_with_quorum

# Makes etcd's members the controllers the stack declares, on a control plane that changes size (or a controller that
# moved to a new address): a new controller's member joins by itself (etcd.sh: as a learner, promoted once it has
# caught up), and this step, on the first controller, waits until every declared member is a started voting member,
# then removes, one at a time, each member the stack no longer declares. Never one whose removal would leave the
# others without a majority of healthy members; a leader is asked to hand its leadership to a declared member first.
# It runs before any member rolls to the new list, so that every roll counts the members etcd has, and before the
# controllers that leave are taken down. A cluster being made (no member answers yet) has nothing to change.
# Environment: KDW_NODE KDW_ETC KDW_IMAGE KDW_ETCD_ENDPOINTS (the declared members' client URLs, comma separated)
#              KDW_ETCD_PEERS (their peer URLs, in the same order)
#              KDW_ETCD_UNDECLARED (optional: members the program found at no declared controller's address as it
#              started, "<id>=<peer URLs>" comma separated; they are what makes the step run, and are removed as any
#              member not declared is)
set -eu
work="$KDW_ETC/etcd-membership"
# How long the declared members may take to join and catch up.
wait_timeout=600

etcdctl_at() { # endpoints, etcdctl arguments (lib-etcdctl.sh)
    kdw_etcdctl_at "$work" "$@"
}

# "<id>, <started|unstarted>, <name>, <peer URLs>, <client URLs>, <is learner>" per member; fails without quorum.
member_list() {
    etcdctl_at "$KDW_ETCD_ENDPOINTS" member list
}

declared() { # peer URL
    echo ",$KDW_ETCD_PEERS," | grep -q ",$1,"
}

# Declared members that are not yet started voting members (by peer URL), one per line.
missing_members() { # member list
    echo "$KDW_ETCD_PEERS" | tr ',' '\n' | while read -r peer; do
        echo "$1" | awk -F', ' -v peer="$peer" '$4 == peer && $5 != "" && $6 == "false" { found = 1 } END { exit !found }' ||
            echo "$peer"
    done
}

wait_for_declared_members() {
    start=$(date +%s)
    while :; do
        list=$(member_list 2>/dev/null || true)
        missing=""
        [ -z "$list" ] || missing=$(missing_members "$list")
        if [ -n "$list" ] && [ -z "$missing" ]; then
            return 0
        fi
        if [ $(($(date +%s) - start)) -ge "$wait_timeout" ]; then
            echo "$KDW_NODE: after ${wait_timeout}s etcd still lacks these declared members as started voting members:" \
                "$(echo "${missing:-(no member list: no quorum)}" | tr '\n' ' ')(each joins from its own controller's" \
                "etcd step, which says why it has not). Members now:" >&2
            echo "${list:-none answered with quorum}" >&2
            exit 1
        fi
        sleep 3
    done
}

# Healthy members (a quorum read through each) among the client URLs given, comma separated.
healthy_count() { # client URLs
    etcdctl_at "$1" endpoint health 2>&1 | grep -c ' is healthy' || true
}

# Whether the member at this client URL leads (its status names itself as the leader).
is_leader() { # client URL
    etcdctl_at "$1" endpoint status --write-out=fields 2>/dev/null |
        awk -F' : ' '$1 == "\"MemberID\"" { m = $2 } $1 == "\"Leader\"" { l = $2 } END { exit !(m != "" && m == l) }'
}

remove_member() { # member line
    id=${1%%,*}
    name=$(echo "$1" | awk -F', ' '{ print $3 }')
    # A member added but never started has no name yet.
    [ -n "$name" ] || name="(never started)"
    list=$(member_list)
    voters=$(echo "$list" | awk -F', ' '$6 == "false"' | grep -c . || true)
    learner=$(echo "$1" | awk -F', ' '{ print $6 }')
    if [ "$learner" = false ]; then
        # The members that stay, by their client URLs: a majority of what etcd will have must be healthy.
        staying=$(echo "$list" | awk -F', ' -v id="$id" '$1 != id && $6 == "false" && $5 != "" { print $5 }' | tr '\n' ',' | sed 's/,$//')
        healthy=0
        [ -z "$staying" ] || healthy=$(healthy_count "$staying")
        needed=$(((voters - 1) / 2 + 1))
        if [ "$healthy" -lt "$needed" ]; then
            echo "$KDW_NODE: not removing etcd member $name ($id): $healthy of the $((voters - 1)) members that stay are" \
                "healthy and they need $needed for a majority. Nothing was removed; bring the unhealthy members back," \
                "then run pulumi up again. Their health:" >&2
            etcdctl_at "$KDW_ETCD_ENDPOINTS" endpoint health >&2 2>&1 || true
            exit 1
        fi
        url=$(echo "$1" | awk -F', ' '{ print $5 }')
        if [ -n "$url" ] && is_leader "$url"; then
            # To a declared member: the first healthy one.
            to=$(echo "$list" | awk -F', ' -v id="$id" '$1 != id && $6 == "false" && $5 != "" { print $1, $5, $4 }' |
                while read -r candidate candidate_url candidate_peer; do
                    declared "$candidate_peer" || continue
                    if etcdctl_at "$candidate_url" endpoint health >/dev/null 2>&1; then echo "$candidate"; break; fi
                done)
            # Without the hand-over the removed leader steps down by itself, after an election's pause.
            if [ -n "$to" ] && etcdctl_at "$url" move-leader "$to" >/dev/null; then
                echo "$KDW_NODE: etcd's leadership moved from $name to $to"
            fi
        fi
    fi
    # The leader refuses a change of members until it has been connected to the others for 5 s (strict reconfiguration
    # check: "unhealthy cluster", "not enough started members"), as just after a hand-over or a promotion.
    start=$(date +%s)
    # A removal that timed out (on a loaded machine a commit can take longer than etcdctl waits) may have landed all
    # the same, and etcd refuses it a second time: the member list says.
    until out=$(etcdctl_at "$KDW_ETCD_ENDPOINTS" member remove "$id" 2>&1); do
        case "$out" in
        *"unhealthy cluster"* | *"not enough started members"*) ;;
        *"context deadline exceeded"* | *"request timed out"*)
            # Gone from a list that was read: removed. A list that could not be read says nothing: tried again.
            if members=$(member_list 2>/dev/null) && ! echo "$members" | grep -q "^$id, "; then break; fi ;;
        *) echo "$KDW_NODE: removing etcd member $name ($id): $out" >&2; exit 1 ;;
        esac
        if [ $(($(date +%s) - start)) -ge 60 ]; then
            echo "$KDW_NODE: etcd still refuses to remove member $name ($id) after 60s: $(echo "$out" | tail -n 1)" >&2
            exit 1
        fi
        sleep 2
    done
    echo "$KDW_NODE: etcd member $name ($id) removed: the stack no longer declares it"
}

case "$1" in
up)
    kdw_write_files
    if ! etcdctl_at "$KDW_ETCD_ENDPOINTS" endpoint status 2>/dev/null | grep -q .; then
        echo "$KDW_NODE: no etcd member answers yet: a cluster being made, its members the declared ones"
        exit 0
    fi
    if [ -n "${KDW_ETCD_UNDECLARED:-}" ]; then
        echo "$KDW_NODE: members found at no declared controller's address as the update began: $KDW_ETCD_UNDECLARED"
    fi
    wait_for_declared_members
    # One at a time, each from a fresh list: a removal changes the majority the next one needs.
    while :; do
        leaving=$(member_list | while IFS= read -r line; do
            declared "$(echo "$line" | awk -F', ' '{ print $4 }')" || { echo "$line"; break; }
        done)
        [ -n "$leaving" ] || break
        remove_member "$leaving"
    done
    echo "$KDW_NODE: etcd's members are the $(echo "$KDW_ETCD_PEERS" | tr ',' '\n' | grep -c .) declared controllers"
    ;;
down)
    rm -rf "$work"
    ;;
esac

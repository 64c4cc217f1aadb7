#!/bin/sh
# kdw-etcd-snapshot takes snapshots of this controller's etcd member: on a schedule (the service) and before every roll
# of etcd or the control plane (etcd.sh and control-plane.sh call `take`). Each snapshot is verified (`etcdutl snapshot
# status` reads every page and checks its hash), recorded with its sha256 beside it, kept on the host (the newest
# KDW_SNAPSHOT_KEEP, in $KDW_DATA/etcd-snapshots) and, when an S3-compatible object store is set, copied off the host
# with its sha256 (`curl --aws-sigv4`), read back and compared, where the newest KDW_SNAPSHOT_KEEP are kept too.
#
#   kdw-etcd-snapshot take REASON   one snapshot now; exit 3 if no member gave one, 1 if it could not be verified,
#                                   kept or copied
#   kdw-etcd-snapshot loop          a snapshot whenever KDW_SNAPSHOT_EVERY_MINUTES have passed since the last scheduled
#                                   one (the service; that time is kept on the host: a restart or reboot does not reset it)
#   kdw-etcd-snapshot list          this controller's snapshots, on the host and in the object store
#   kdw-etcd-snapshot fetch KEY SHA256 FILE
#                                   the object store's snapshot KEY into FILE, once it has that sha256 and verifies
#                                   (for a restore, host/scripts/etcd-restore.sh)
#   kdw-etcd-snapshot up            start the service (enabled at boot); `down` stops and removes it, keeping snapshots
#
# Its settings are in the folder KDW_SNAPSHOT_SETTINGS names ($KDW_ETC/etcd-snapshot), written by the EtcdSnapshots
# step (components/etcdSnapshots.ts): `settings` (KDW_NODE KDW_PROFILE KDW_HOME KDW_DATA KDW_ETC KDW_IMAGE
# KDW_ETCD_ENDPOINTS KDW_SNAPSHOT_EVERY_MINUTES KDW_SNAPSHOT_KEEP, and for an object store KDW_STORE_ENDPOINT
# KDW_STORE_BUCKET KDW_STORE_REGION KDW_STORE_PREFIX KDW_STORE_ACCESS_KEY), `store-secret` (the secret key, 0600) and
# `store-ca.pem` (the store's CA, when it has its own). An object's key: <prefix>/<node>/<node>-<UTC time>-<reason>.db,
# and the same with .sha256.
set -eu
settings_dir=${KDW_SNAPSHOT_SETTINGS:?the folder of the snapshot settings}
# shellcheck source=/dev/null
. "$settings_dir/settings"
dir="$KDW_DATA/etcd-snapshots"
last_scheduled="$dir/last-scheduled"

say() { echo "kdw-etcd-snapshot: $*"; }

# etcdctl and etcdutl from the member's image, with its client certificate.
etcd_tool() { # VOLUME-ARGS... -- COMMAND ARGS...
    volumes=""
    while [ "$1" != -- ]; do volumes="$volumes $1"; shift; done
    shift
    # shellcheck disable=SC2086 # volume arguments split into words
    docker run --rm --network host $volumes "$KDW_IMAGE" "$@"
}

# curl against the object store: the secret key goes on stdin (a config line), never on a command line. S3 wants the
# payload's sha256 signed with the request: the file's for an upload (the store checks the body against it), an empty
# body's otherwise.
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
store_curl() { # PATH-AND-QUERY PAYLOAD-SHA256 CURL-ARGS...
    url="${KDW_STORE_ENDPOINT%/}/$KDW_STORE_BUCKET$1"
    payload=$2
    shift 2
    ca=""
    [ ! -s "$settings_dir/store-ca.pem" ] || ca="--cacert $settings_dir/store-ca.pem"
    # shellcheck disable=SC2086 # the CA argument splits into words
    printf 'user = "%s:%s"\n' "$KDW_STORE_ACCESS_KEY" "$(cat "$settings_dir/store-secret")" |
        curl --silent --show-error --fail --max-time 120 --config - $ca \
            --aws-sigv4 "aws:amz:$KDW_STORE_REGION:s3" --header "x-amz-content-sha256: $payload" "$@" "$url"
}
store_keys() { # the object store's keys under this controller's folder, oldest first (names start with the time)
    # The prefix URL-encoded, as SigV4's canonical query has it (names are letters, digits, '.', '_', '-' and '/').
    store_curl "?list-type=2&prefix=$(echo "$KDW_STORE_PREFIX/$KDW_NODE/" | sed 's|/|%2F|g')" "$empty_sha256" |
        tr '<' '\n' | sed -n 's/^Key>//p' | sort
}

local_snapshots() { # this host's snapshots, oldest first (names start with the time)
    for file in "$dir"/*.db; do
        [ ! -e "$file" ] || basename "$file"
    done
}

# Keeps the newest KEEP of a list of snapshot names (oldest first), printing the others.
beyond_keep() {
    grep '\.db$' | awk -v keep="$KDW_SNAPSHOT_KEEP" '{ names[NR] = $0 } END { for (i = 1; i <= NR - keep; i++) print names[i] }'
}

take() { # REASON
    reason=$1
    mkdir -p "$dir"
    chmod 0700 "$dir"
    name="$KDW_NODE-$(date -u +%Y%m%dT%H%M%SZ)-$reason.db"
    partial="$dir/.partial-$name"
    rm -f "$dir"/.partial-*
    # From this member; from another when this one does not answer (a roll may be what mends it).
    taken=""
    for endpoint in $(echo "$KDW_ETCD_ENDPOINTS" | tr ',' ' '); do
        if etcd_tool --volume "$KDW_ETC/etcd:/etc/etcd:ro" --volume "$dir:/snapshots" -- etcdctl \
            --endpoints="$endpoint" --cacert=/etc/etcd/ca.pem --cert=/etc/etcd/server.pem \
            --key=/etc/etcd/server-key.pem --dial-timeout=3s --command-timeout=60s \
            snapshot save "/snapshots/.partial-$name" >/dev/null 2>"$dir/.partial-log"; then
            taken=$endpoint
            break
        fi
    done
    if [ -z "$taken" ]; then
        say "$KDW_NODE: no member of $KDW_ETCD_ENDPOINTS gave a snapshot; etcdctl said (of the last):" >&2
        cat "$dir/.partial-log" >&2
        rm -f "$dir"/.partial-*
        return 3
    fi
    if ! verified=$(etcd_tool --volume "$dir:/snapshots" -- etcdutl snapshot status "/snapshots/.partial-$name" -w json \
        2>"$dir/.partial-log"); then
        say "$KDW_NODE: the snapshot from $taken does not verify; etcdutl said:" >&2
        cat "$dir/.partial-log" >&2
        rm -f "$dir"/.partial-*
        return 1
    fi
    mv -f "$partial" "$dir/$name" || return 1
    (cd "$dir" && sha256sum "$name" > "$name.sha256") || return 1
    rm -f "$dir/.partial-log"
    say "$name from $taken: $verified; sha256 $(cut -d' ' -f1 "$dir/$name.sha256")"
    # The newest KEEP on the host.
    local_snapshots | beyond_keep | while read -r old; do
        rm -f "$dir/$old" "$dir/$old.sha256"
    done
    [ -n "${KDW_STORE_ENDPOINT:-}" ] || return 0
    key="$KDW_STORE_PREFIX/$KDW_NODE/$name"
    sha256=$(cut -d' ' -f1 "$dir/$name.sha256")
    if ! store_curl "/$key" "$sha256" --upload-file "$dir/$name" >/dev/null ||
        ! store_curl "/$key.sha256" "$(sha256sum < "$dir/$name.sha256" | cut -d' ' -f1)" \
            --upload-file "$dir/$name.sha256" >/dev/null; then
        say "$KDW_NODE: $name could not be copied to $KDW_STORE_ENDPOINT/$KDW_STORE_BUCKET/$key (it is kept on the host)" >&2
        return 1
    fi
    # The store's copy must be the host's, byte for byte.
    stored=$(store_curl "/$key" "$empty_sha256" --output - | sha256sum | cut -d' ' -f1)
    [ "$stored" = "$sha256" ] ||
        { say "$KDW_NODE: the copy of $name in the object store has sha256 $stored, not the host's" >&2; return 1; }
    say "$name copied to $KDW_STORE_ENDPOINT/$KDW_STORE_BUCKET/$key"
    store_keys | beyond_keep | while read -r old; do
        if ! store_curl "/$old" "$empty_sha256" --request DELETE >/dev/null ||
            ! store_curl "/$old.sha256" "$empty_sha256" --request DELETE >/dev/null; then
            say "$KDW_NODE: could not remove $old from the object store" >&2
        fi
    done
}

fetch() { # KEY SHA256 FILE
    partial="$3.partial"
    rm -f "$partial"
    if ! store_curl "/$1" "$empty_sha256" --output "$partial"; then
        rm -f "$partial"
        say "$KDW_NODE: $KDW_STORE_ENDPOINT/$KDW_STORE_BUCKET/$1 could not be read" >&2
        return 1
    fi
    got=$(sha256sum < "$partial" | cut -d' ' -f1)
    if [ "$got" != "$2" ]; then
        rm -f "$partial"
        say "$KDW_NODE: $1 read from the object store has sha256 $got, not $2, the one recorded beside it" >&2
        return 1
    fi
    if ! verified=$(etcd_tool --volume "$(dirname "$3"):/snapshots" -- etcdutl snapshot status \
        "/snapshots/$(basename "$partial")" -w json 2>&1); then
        rm -f "$partial"
        say "$KDW_NODE: $1 does not verify; etcdutl said: $verified" >&2
        return 1
    fi
    mv -f "$partial" "$3"
    say "$1 fetched: $verified; sha256 $got"
}

loop() {
    while :; do
        now=$(date +%s)
        last=$(cat "$last_scheduled" 2>/dev/null || echo 0)
        due=$((last + KDW_SNAPSHOT_EVERY_MINUTES * 60))
        if [ "$now" -ge "$due" ]; then
            if take scheduled; then
                echo "$now" > "$last_scheduled"
            else
                say "the scheduled snapshot failed; trying again in 60 s" >&2
                sleep 60
            fi
        else
            wait=$((due - now))
            [ "$wait" -le 60 ] || wait=60
            sleep "$wait"
        fi
    done
}

# The service: a systemd unit, or on boot2docker kdw-service started from the boot hook.
unit=/etc/systemd/system/kdw-etcd-snapshot.service
service_stop() {
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl stop kdw-etcd-snapshot.service 2>/dev/null || true
    elif [ -x "$KDW_HOME/bin/kdw-service" ]; then
        "$KDW_HOME/bin/kdw-service" stop etcd-snapshot
    fi
}
service_start() {
    if [ "$KDW_PROFILE" = systemd ]; then
        cat > "$unit.kdw-new" <<UNIT
[Unit]
Description=kube-dumb-way: etcd snapshots of this controller's member
After=docker.service
Wants=docker.service

[Service]
Environment=KDW_SNAPSHOT_SETTINGS=$settings_dir
ExecStart=$KDW_HOME/bin/kdw-etcd-snapshot loop
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
        if cmp -s "$unit.kdw-new" "$unit"; then rm -f "$unit.kdw-new"; else mv -f "$unit.kdw-new" "$unit"; fi
        systemctl daemon-reload
        systemctl enable kdw-etcd-snapshot.service >/dev/null 2>&1
        systemctl restart kdw-etcd-snapshot.service
    else
        line="KDW_SNAPSHOT_SETTINGS=$settings_dir $KDW_HOME/bin/kdw-service start etcd-snapshot $KDW_HOME/bin/kdw-etcd-snapshot loop"
        echo "$line" > "$KDW_HOME/boot.d/70-etcd-snapshot"
        service_stop
        KDW_SNAPSHOT_SETTINGS=$settings_dir "$KDW_HOME/bin/kdw-service" start etcd-snapshot "$KDW_HOME/bin/kdw-etcd-snapshot" loop
    fi
}

case "${1:-}" in
take)
    status=0
    take "$2" || status=$?
    exit "$status"
    ;;
fetch) fetch "$2" "$3" "$4" ;;
loop) loop ;;
list)
    local_snapshots | sed 's/^/host: /'
    [ -z "${KDW_STORE_ENDPOINT:-}" ] || store_keys | grep '\.db$' | sed 's/^/store: /'
    ;;
up)
    if [ "$KDW_SNAPSHOT_EVERY_MINUTES" -gt 0 ]; then
        service_start
    else
        "$0" down
    fi
    ;;
down)
    service_stop
    if [ "$KDW_PROFILE" = systemd ]; then
        systemctl disable kdw-etcd-snapshot.service >/dev/null 2>&1 || true
        if [ -f "$unit" ]; then
            rm -f "$unit"
            systemctl daemon-reload
        fi
    fi
    rm -f "$KDW_HOME/boot.d/70-etcd-snapshot"
    ;;
*)
    echo "usage: kdw-etcd-snapshot take REASON | loop | list | fetch KEY SHA256 FILE | up | down" >&2
    exit 2
    ;;
esac

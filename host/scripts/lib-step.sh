# The step's lock, sent ahead of every step script with the call that takes it (`kdw_step_lock <script>`, added by
# withLibraries in host/remote.ts). A killed `pulumi up` or `destroy` closes its SSH sessions, and that does not
# stop their steps: they run on, on the host, and a step of the next run would do the same work beside them (two
# `rm -rf` of one folder fail each other on busybox). So every step holds its script's lock file,
# $KDW_ETC/locks/<script>.lock, open as descriptor 9 for as long as it runs (and locked with flock where the host has
# it; boot2docker's busybox may not), and every process it starts inherits it. Pulumi never runs two steps of one
# script on one host at once, so a step that finds its lock file open elsewhere has found a step of an interrupted run:
# it stops every process that has the file open (the step's shell and whatever it runs, `rm` or `docker` alike), waits
# until they are gone, and only then starts. The host's sweep (host.sh down) does the same for the steps of every
# script. The services a step starts must not keep the descriptor: kdw-service closes it; systemd and Docker start
# theirs afresh.
# Environment: KDW_ETC

# The processes, other than this shell, that have the file open (from /proc: busybox has neither lsof nor fuser).
kdw_lock_holders() { # file, its symbolic links resolved
    # shellcheck disable=SC2012 # ls -l is what prints the descriptors' targets on busybox too
    ls -l /proc/[0-9]*/fd 2>/dev/null | awk -v file="$1" -v self="$$" '
        /^\/proc\/[0-9]+\/fd:$/ { split($0, part, "/"); pid = part[3]; next }
        { at = index($0, " -> ") }
        at > 0 && substr($0, at + 4) == file && pid != self { print pid }' | sort -u
}

# Stops the processes that have the lock file open and waits until none is left: SIGTERM, SIGKILL after 10 s, and a
# failure naming them if they still have it open 10 s later (a process stuck in the kernel).
kdw_stop_holders() { # lock file, its symbolic links resolved
    holders=$(kdw_lock_holders "$1")
    [ -n "$holders" ] || return 0
    echo "$(hostname): stopping a step of an interrupted run still running here (${1##*/}: processes" \
        "$(echo "$holders" | tr '\n' ' '))" >&2
    waited=0
    while [ -n "$holders" ]; do
        case "$waited" in
        0) signal=TERM ;;
        10) signal=KILL ;;
        20)
            echo "$(hostname): processes $(echo "$holders" | tr '\n' ' ')still have $1 open 10s after SIGKILL" >&2
            return 1
            ;;
        *) signal= ;;
        esac
        # shellcheck disable=SC2086 # one pid a word
        [ -z "$signal" ] || kill "-$signal" $holders 2>/dev/null || true
        sleep 1
        waited=$((waited + 1))
        holders=$(kdw_lock_holders "$1")
    done
}

kdw_step_lock() { # script name
    kdw_locks=$(umask 077 && mkdir -p "$KDW_ETC/locks" && cd "$KDW_ETC/locks" && pwd -P) || exit 1
    kdw_lock="$kdw_locks/$1.lock"
    kdw_stop_holders "$kdw_lock" || exit 1
    exec 9>>"$kdw_lock"
    if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
        echo "$(hostname): another step holds $kdw_lock (processes $(kdw_lock_holders "$kdw_lock" | tr '\n' ' '))" >&2
        exit 1
    fi
}

# For the host's sweep: stops the steps of every other script still running here.
kdw_stop_steps() {
    for lock in "$kdw_locks"/*.lock; do
        if [ -f "$lock" ] && [ "$lock" != "$kdw_lock" ]; then kdw_stop_holders "$lock" || return 1; fi
    done
}

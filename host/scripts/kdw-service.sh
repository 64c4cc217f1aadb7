#!/bin/sh
# Keeps a command running on hosts without systemd (boot2docker): `kdw-service start NAME COMMAND...` starts a
# supervisor that restarts COMMAND when it exits; `kdw-service stop NAME` stops both. Logs go to /var/log/kdw/NAME.log.
set -eu
run_dir=/var/run/kdw
log_dir=/var/log/kdw

running() { # pidfile
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

action=$1
name=$2
shift 2
pidfile="$run_dir/$name.pid"
case "$action" in
start)
    mkdir -p "$run_dir" "$log_dir"
    running "$pidfile" && exit 0
    # The cluster's programs first, as the systemd units have it: containerd must start its own shim and runc, not
    # the older ones Docker brings (on boot2docker in /usr/local/bin, first in the PATH that sudo and the boot give).
    PATH="$(cd "$(dirname "$0")" && pwd):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    export PATH
    # setsid makes the supervisor a process-group leader, so `stop` ends it and its child together. It does not keep
    # descriptor 9, the lock of the step that starts it (lib-step.sh): the next step would take the service for a
    # step of an interrupted run still running.
    setsid sh -c 'while :; do "$@"; echo "kdw-service: exited with $?, restarting in 2s"; sleep 2; done' \
        "$name" "$@" >>"$log_dir/$name.log" 2>&1 </dev/null 9>&- &
    echo $! > "$pidfile"
    ;;
stop)
    if running "$pidfile"; then
        # The supervisor leads its own process group: signal the group, so the service ends with it. (No `--` before
        # the negative id: dash's kill refuses it, and busybox sh's signals the group but then fails.) Then wait, so
        # that a start that follows does not find the old service still holding its socket or port.
        group="-$(cat "$pidfile")"
        kill -TERM "$group" 2>/dev/null || true
        waited=0
        while kill -0 "$group" 2>/dev/null && [ "$waited" -lt 30 ]; do
            sleep 1
            waited=$((waited + 1))
        done
        kill -KILL "$group" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    ;;
*)
    echo "usage: kdw-service start|stop NAME [COMMAND...]" >&2
    exit 2
    ;;
esac

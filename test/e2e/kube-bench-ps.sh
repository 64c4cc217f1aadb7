#!/bin/sh
# procps's ps as kube-bench calls it, for a host whose ps is busybox's (boot2docker), which knows no -C: kube-bench
# finds a component with `/bin/ps -C NAME -o cmd --no-headers`, reads its environment through `/bin/ps -C NAME -o pid=`,
# and its audits read `ps -ef` and `/bin/ps -fC NAME`.
# Reads /proc. As procps does, -C matches a process's name (its first 15 characters, all the kernel keeps) exactly.
# Any other option is refused, so that an audit that needs more fails instead of reading something else.
set -eu
name="" column="" headers=true
while [ $# -gt 0 ]; do
    case "$1" in
    -C | -fC)
        [ $# -ge 2 ] || { echo "kube-bench-ps: $1 needs a name" >&2; exit 1; }
        name=$2
        shift
        ;;
    -e | -f | -ef | -fe) ;;
    -o)
        # One column: its name, and "=" (no header) or not.
        case "${2:-}" in
        cmd | pid) column=$2 ;;
        cmd= | pid=) column=${2%=} headers=false ;;
        *) echo "kube-bench-ps: only -o cmd or -o pid is supported here" >&2; exit 1 ;;
        esac
        shift
        ;;
    --no-headers) headers=false ;;
    *) echo "kube-bench-ps: option $1 is not supported here" >&2; exit 1 ;;
    esac
    shift
done
short=$(printf '%.15s' "$name")
list=$(for dir in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$dir/comm" || continue
    [ -z "$name" ] || [ "$comm" = "$short" ] || continue
    args=$(tr '\000' ' ' 2>/dev/null <"$dir/cmdline") || continue
    args=${args% }
    [ -n "$args" ] || args="[$comm]"
    if [ "$column" = pid ]; then
        echo "${dir#/proc/}"
    elif [ "$column" = cmd ]; then
        echo "$args"
    else
        uid="" ppid=""
        while read -r key value _; do
            case "$key" in
            Uid:) uid=$value ;;
            PPid:) ppid=$value ;;
            esac
        done 2>/dev/null <"$dir/status" || continue
        printf '%s %7s %7s  0 00:00 ?        00:00:00 %s\n' "$uid" "${dir#/proc/}" "$ppid" "$args"
    fi
done)
if $headers; then
    case "$column" in
    pid) echo "    PID" ;;
    cmd) echo "CMD" ;;
    *) echo "UID          PID    PPID  C STIME TTY          TIME CMD" ;;
    esac
fi
# As procps: no process selected is exit status 1.
[ -n "$list" ] || exit 1
if [ -n "$column" ]; then
    echo "$list"
else
    # User names for the numeric ids, as procps prints them.
    echo "$list" | awk 'NR == FNR { split($0, f, ":"); user[f[3]] = f[1]; next }
        { u = ($1 in user) ? user[$1] : $1; sub(/^[^ ]+/, sprintf("%-8s", u)); print }' /etc/passwd -
fi

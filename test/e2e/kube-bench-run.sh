#!/bin/sh
# Runs kube-bench as root on a test host, from the folder the standards suite copied it to with its cfg/ and
# kube-bench-ps.sh; prints kube-bench's JSON, its log goes to DIR/stderr.log:
#   kube-bench-run.sh DIR BENCHMARK TARGETS SKIP
# kube-bench finds each component with procps's `/bin/ps -C NAME` (the path is built in) and its audits read
# `/bin/ps -ef` and `/bin/ps -fC NAME`. Where /bin/ps is busybox's (boot2docker), which has no -C, kube-bench runs in a
# mount namespace of its own whose /bin is a copy of the host's with kube-bench-ps.sh as ps: the host is not changed.
set -eu
dir=$1 benchmark=$2 targets=$3 skip=$4
cd "$dir"

bench() {
    # -v 1: kube-bench says in its log which component it could not find running.
    ./kube-bench run --config-dir "$dir/cfg" --benchmark "$benchmark" --targets "$targets" --skip "$skip" --json -v 1 \
        2>"$dir/stderr.log"
}

procps() { # whether /bin/ps selects by name, as procps's does: this script runs as sh
    /bin/ps -C sh -o cmd --no-headers >/dev/null 2>&1
}

if [ "${KDW_BENCH_NAMESPACE:-}" = 1 ]; then
    # In the namespace: nothing mounted here reaches the host.
    mount --make-rprivate /
    cp -a /bin "$dir/bin"
    # A link to busybox (not written through: that would change busybox itself) replaced by the stand-in.
    rm -f "$dir/bin/ps"
    cp "$dir/kube-bench-ps.sh" "$dir/bin/ps"
    chmod 0755 "$dir/bin/ps"
    mount --bind "$dir/bin" /bin
    procps || { echo "kube-bench-run: /bin/ps in the namespace does not select by name (ps -C)" >&2; exit 1; }
    [ "$(command -v ps)" = /bin/ps ] || { echo "kube-bench-run: the audits' ps is $(command -v ps), not /bin/ps" >&2; exit 1; }
    bench
elif procps; then
    bench
else
    command -v unshare >/dev/null ||
        { echo "kube-bench-run: /bin/ps has no -C and there is no unshare to give kube-bench one" >&2; exit 1; }
    KDW_BENCH_NAMESPACE=1 exec unshare -m sh "$0" "$@"
fi

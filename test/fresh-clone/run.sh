#!/usr/bin/env bash
# The README's test command on a fresh machine, as a check that can fail:
#
#   bash test/fresh-clone/run.sh
#
# A fresh clone of this repository's HEAD, on this machine as a new one would be: / seen through an overlay in a mount
# namespace of its own, with the packages the tests need beyond Node.js and Go (shellcheck, busybox, iproute2,
# iptables, qemu, dnsmasq) purged from it (their files and dpkg's record of them, so that nothing but the project's own set-up can
# bring them back), an empty npm cache and an empty Go module cache. Then:
#   1. as an unprivileged user, `npm test` stops before it compiles or runs anything and names what to install;
#   2. as root, `npm ci && npm test` passes, with no test skipped, and the tools it needed were installed on the way.
# Nothing it does reaches the machine itself: the overlay's changes live in a tmpfs that goes with the namespace.
# One line per check ("ok - …" / "not ok - …: why"), then "N passed, N failed"; exits 1 if any failed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# What scripts/test-deps.sh installs, by package; busybox-static and busybox both give the busybox command.
packages=(shellcheck busybox busybox-static iproute2 iptables qemu-system-x86 dnsmasq-base)
tools=(shellcheck busybox ip iptables qemu-system-x86_64 dnsmasq)

if [ "${1:-}" != --inside ]; then
    [ "$(id -u)" = 0 ] || { echo "test/fresh-clone/run.sh needs root (a mount namespace and an overlay of /)" >&2; exit 1; }
    work=$(mktemp -d /tmp/kdw-fresh.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    git clone --quiet --no-hardlinks "$repo" "$work/clone"
    unshare --mount --fork bash "$repo/test/fresh-clone/run.sh" --inside "$work"
    exit
fi

work=$2
passed=0 failed=0
pass() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "not ok - $1: $2"; failed=$((failed + 1)); }

# The overlay: its upper layer on a tmpfs (an upper layer on the lower's own filesystem is refused as overlapping).
mount --make-rprivate /
mkdir -p "$work/layer"
mount -t tmpfs -o size=8g tmpfs "$work/layer"
mkdir "$work/layer/upper" "$work/layer/work" "$work/layer/root"
root=$work/layer/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/layer/upper,workdir=$work/layer/work" "$root"
for fs in /proc /sys /dev; do
    mount --rbind "$fs" "$root$fs"
done
mount -t tmpfs tmpfs "$root/tmp"
cp -a "$work/clone" "$root/tmp/clone"

# in_root COMMAND: a bash command in the fresh machine, with a clean environment: the system's PATH and the folders of
# the machine's Node.js and Go (which a machine of this kind has; nothing else of this one's PATH).
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
for runtime in node go; do
    dir=$(dirname "$(command -v "$runtime")")
    case ":$path:" in *":$dir:"*) ;; *) path="$dir:$path" ;; esac
done
in_root() {
    chroot "$root" env -i PATH="$path" HOME="$HOME" TERM=dumb \
        npm_config_cache=/tmp/npm-cache GOMODCACHE=/tmp/go-mod CI="${CI:-}" bash -c "$1"
}

installed=$(in_root "dpkg-query -W -f '\${Package} \${db:Status-Status}\n' ${packages[*]} 2>/dev/null | awk '\$2 == \"installed\" { print \$1 }'" | xargs || true)
if [ -n "$installed" ]; then
    in_root "DEBIAN_FRONTEND=noninteractive dpkg --purge --force-depends $installed >/dev/null 2>&1"
fi
# The tools the fresh machine has, of those the tests need, on one line.
tools_found() { in_root "for t in ${tools[*]}; do command -v \$t >/dev/null && echo \$t; done; true" | xargs; }
still=$(tools_found)
if [ -z "$still" ]; then
    pass "the fresh machine lacks ${tools[*]} (purged: ${installed:-nothing})"
else
    fail "the fresh machine lacks ${tools[*]}" "still there: $still"
fi

# 1. Without root, the test command names what to install and stops before anything else.
in_root "chown -R 65534:65534 /tmp/clone"
set +e
out=$(in_root "cd /tmp/clone && setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp/clone npm test 2>&1")
status=$?
set -e
want="apt-get install -y --no-install-recommends shellcheck iproute2 iptables busybox-static qemu-system-x86 dnsmasq-base"
if [ "$status" != 0 ] && grep -qF "$want" <<<"$out" && in_root "[ ! -e /tmp/clone/bin ]"; then
    pass "npm test without root: exit $status before compiling, naming \`$want\`"
else
    fail "npm test without root stops and names what to install" \
        "exit $status, bin/ $(in_root "[ -e /tmp/clone/bin ] && echo made || echo absent"); output: $(tail -n 5 <<<"$out" | tr '\n' ' ')"
fi
in_root "chown -R 0:0 /tmp/clone"

# 2. As root: the README's two commands. The registry is reached through this machine's network; a fetch that fails
# on the way (a reset, a timeout, a certificate the proxy served wrong: npm retries only some of them, and a proxy's
# bad certificate was seen to last a minute, and on 2026-12-06 over three: every fetch of one `npm ci` and its three
# repeats failed with SELF_SIGNED_CERT_IN_CHAIN from 05:30 to 05:33, while the same fetch passed minutes later) is npm
# ci's to repeat, up to 7 times over about 11 minutes, each repeat said in the result, never the tests'.
registry_error='npm error code (ECONNRESET|ETIMEDOUT|EAI_AGAIN|ECONNREFUSED|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|E5[0-9][0-9])$'
retried=""
set +e
for wait in 10 30 60 120 180 240 0; do
    in_root "cd /tmp/clone && npm ci --no-audit --no-fund" >"$work/npm-ci.log" 2>&1
    status=$?
    if [ "$status" = 0 ] || [ "$wait" = 0 ] || ! grep -qE "$registry_error" "$work/npm-ci.log"; then
        break
    fi
    retried="$retried (npm ci repeated after ${wait}s: $(grep -m1 -E 'npm error request' "$work/npm-ci.log"))"
    sleep "$wait"
done
cp "$work/npm-ci.log" "$work/npm-test.log"
if [ "$status" = 0 ]; then
    in_root "cd /tmp/clone && npm test" >>"$work/npm-test.log" 2>&1
    status=$?
fi
set -e
cp "$work/npm-test.log" "$repo/.cache/fresh-clone-npm-test.log" 2>/dev/null || true
summary=$(grep -E '^ℹ (tests|pass|fail|skipped|todo|cancelled) [0-9]+$' "$work/npm-test.log" | sed 's/^ℹ //' | tr '\n' ' ' || true)
# Node's runner counts a skipped or todo test apart from the failed ones: none of either may hide here.
# (An `if`: under `set -e` a failed substitution in an assignment would end the script without a word.)
clean=""
if [ "$status" = 0 ] && grep -qE '^ℹ pass [1-9][0-9]*$' "$work/npm-test.log"; then
    clean=yes
fi
for count in fail skipped todo cancelled; do
    grep -qE "^ℹ $count 0\$" "$work/npm-test.log" || clean=""
done
if [ -n "$clean" ]; then
    pass "npm ci && npm test as root in a fresh clone: ${summary}${retried}"
else
    fail "npm ci && npm test as root in a fresh clone" \
        "exit $status; ${summary:-no summary}${retried}; last lines: $(grep -E 'not ok|Error|error' "$work/npm-test.log" | head -n 8 | tr '\n' ' ' || true)"
fi
after=$(tools_found)
if [ "$after" = "${tools[*]}" ]; then
    pass "the test command installed ${tools[*]}"
else
    fail "the test command installed ${tools[*]}" "only ${after:-none} after it"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# Builds the cluster's images from the toolchain's binaries (no base image: each is a `docker import` of a folder with
# static binaries) and pushes them to the test hosts' registry, under the names the program pulls:
#   <registry>/etcd:<etcd>-0  kube-apiserver|kube-controller-manager|kube-scheduler:<kubernetes> and :<kubernetesPrevious>
#   pause:<pause>  coredns/coredns:<coredns>  kube-vip/kube-vip:<kubeVip>
#   kdw-smoke:2 (Debian's static busybox: sh, httpd, nslookup, wget, for the smoke tests)
# An image whose inputs did not change since it was last pushed is skipped.
#
#   source scripts/env.sh && npm run hosts:up && bash scripts/images.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
: "${KDW_TOOLCHAIN_HOME:?source scripts/env.sh first}" "${KDW_PREVIOUS_BINARY_DIR:?source scripts/env.sh first}"
bin="$KDW_TOOLCHAIN_HOME/bin"
cache="${KDW_CACHE_DIR:-$HOME/.cache/kube-dumb-way}/images"
state="${KDW_HOSTS_STATE_DIR:-${KDW_CACHE_DIR:-$HOME/.cache/kube-dumb-way}/hosts/state${KDW_HOSTS_INSTANCE:+-$KDW_HOSTS_INSTANCE}}"
mkdir -p "$cache"

json() { node -p "const j = require('$1'); $2"; }
[ -f "$state/registry.json" ] || { echo "[images] no registry: run npm run hosts:up first" >&2; exit 1; }
registry="$(json "$state/registry.json" 'j.address')"
v() { json "$root/versions.json" "j.$1"; }

# busybox-static from Debian, for the smoke-test image.
busybox="$cache/busybox"
if [ ! -x "$busybox" ]; then
    work="$(mktemp -d)"
    (cd "$work" && apt-get download -q busybox-static >/dev/null 2>&1) ||
        (apt-get update -qq && cd "$work" && apt-get download -q busybox-static >/dev/null)
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/x"
    install -m 0755 "$work/x/bin/busybox" "$busybox"
    rm -rf "$work"
fi

# image NAME:TAG ENTRYPOINT-JSON SRC=DEST...: one layer holding the given files, plus /tmp and /var/log.
image() {
    local ref="$registry/$1" entrypoint="$2" dir stamp start
    shift 2
    start=$SECONDS
    stamp="$cache/$(echo "$ref" | tr '/:' '__').stamp"
    local want
    want="$(for pair in "$@"; do sha256sum "${pair%%=*}"; done | sha256sum | cut -d' ' -f1) $entrypoint"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
        curl -fsS --cacert "$(json "$state/registry.json" 'j.caCertPath')" -o /dev/null \
            -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
            "https://$registry/v2/${1%:*}/manifests/${1##*:}"; then
        echo "[images] $ref cached"
        return 0
    fi
    dir="$(mktemp -d)"
    mkdir -p "$dir/tmp" "$dir/var/log"
    chmod 1777 "$dir/tmp"
    for pair in "$@"; do
        install -D -m 0755 "${pair%%=*}" "$dir/${pair#*=}"
    done
    tar -C "$dir" -c . | docker import --change "ENTRYPOINT $entrypoint" --change 'ENV PATH=/usr/local/bin:/bin' - "$ref" >/dev/null
    rm -rf "$dir"
    docker push -q "$ref" >/dev/null
    echo "$want" > "$stamp"
    echo "[images] $ref pushed in $((SECONDS - start))s"
}

etcd="$(v etcd)"
kubernetes="$(v kubernetes)"
image "etcd:${etcd#v}-0" '[]' "$bin/etcd=usr/local/bin/etcd" "$bin/etcdctl=usr/local/bin/etcdctl"
# The pinned release and the previous minor (the toolchain's bin-previous/), which upgrades start from.
for release in "$kubernetes=$bin" "$(v kubernetesPrevious)=$KDW_PREVIOUS_BINARY_DIR"; do
    for component in kube-apiserver kube-controller-manager kube-scheduler; do
        image "$component:${release%%=*}" '[]' "${release#*=}/$component=usr/local/bin/$component"
    done
done
image "pause:$(v pause)" '["/pause"]' "$bin/pause=pause"
image "coredns/coredns:$(v coredns)" '["/coredns"]' "$bin/coredns=coredns"
# Where a mirror keeps kube-vip (ghcr.io/kube-vip/kube-vip upstream): see kubeVipImage in components/apiServerVip.ts.
image "kube-vip/kube-vip:$(v kubeVip)" '["/kube-vip"]' "$bin/kube-vip=kube-vip"

# The smoke-test image: busybox with its applets linked, and a page for httpd to serve.
smoke="$cache/smoke"
rm -rf "$smoke" && mkdir -p "$smoke/www"
echo "kube-dumb-way smoke test" > "$smoke/www/index.html"
links=()
for applet in sh httpd nslookup wget nc timeout cat echo hostname sleep ls ip ping; do links+=("$busybox=bin/$applet"); done
image "kdw-smoke:2" '["/bin/sh", "-c", "exec httpd -f -vv -p 80 -h /www"]' "$busybox=bin/busybox" "${links[@]}" \
    "$smoke/www/index.html=www/index.html"

#!/usr/bin/env bash
# Builds the cluster's images from the toolchain's binaries (no base image: each is a `docker import` of a folder with
# static binaries) and pushes them to the test hosts' registry, under the names the program pulls:
#   <registry>/etcd:<etcd>-0  kube-apiserver|kube-controller-manager|kube-scheduler:<kubernetes>
#   pause:<pause>  coredns/coredns:<coredns>  kube-vip/kube-vip:<kubeVip>  cloudnativelabs/kube-router:<kubeRouter>
#   metrics-server/metrics-server:<metricsServer>
#   kdw-smoke:2 (Debian's static busybox: sh, httpd, nslookup, wget, for the smoke tests)
# An image whose inputs did not change since it was last pushed is skipped.
#
#   source scripts/env.sh && npm run hosts:up && bash scripts/images.sh [previous] [conformance]
#
# `previous` adds the control plane's images at the previous minor (versions.json kubernetesPrevious, from the toolchain's
# bin-previous/), which upgrades start from (test/e2e/scenarios/upgrade.ts); `conformance` the images the standards
# suite's Kubernetes conformance tests run (test/e2e/scenarios/standards.ts): see the end. Each needs toolchain items the
# others do not (CI builds those beside its first suites: .ci/run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
: "${KDW_TOOLCHAIN_HOME:?source scripts/env.sh first}" "${KDW_PREVIOUS_BINARY_DIR:?source scripts/env.sh first}"
bin="$KDW_TOOLCHAIN_HOME/bin"
cache="${KDW_CACHE_DIR:-$HOME/.cache/kube-dumb-way}/images"
state="${KDW_HOSTS_STATE_DIR:-${KDW_CACHE_DIR:-$HOME/.cache/kube-dumb-way}/hosts/state${KDW_HOSTS_INSTANCE:+-$KDW_HOSTS_INSTANCE}}"
mkdir -p "$cache"

previous="" conformance=""
for group in "$@"; do
    case "$group" in
    previous) previous=1 ;;
    conformance) conformance=1 ;;
    *) echo "[images] no image group \"$group\": the groups are previous and conformance" >&2; exit 2 ;;
    esac
done

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

stamp_of() { echo "$cache/$(echo "$1" | tr '/:' '__').stamp"; }
in_registry() { # NAME:TAG
    curl -fsS --cacert "$(json "$state/registry.json" 'j.caCertPath')" -o /dev/null \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "https://$registry/v2/${1%:*}/manifests/${1##*:}"
}

# image NAME:TAG ENTRYPOINT-JSON SRC=DEST...: one layer holding the given files, plus /tmp and /var/log; a SRC of
# the form @TARGET makes DEST a symbolic link to TARGET. "CMD <JSON>" instead of ENTRYPOINT-JSON: no entrypoint, that
# command.
image() {
    local ref="$registry/$1" entrypoint="$2" dir stamp start
    shift 2
    start=$SECONDS
    stamp="$(stamp_of "$ref")"
    local want
    # What the image holds (each file's content and place, not where it came from: a new toolchain folder with the
    # same binaries pushes nothing).
    want="$(for pair in "$@"; do
        if [ "${pair#@}" != "$pair" ]; then echo "$pair"; else echo "$(sha256sum < "${pair%%=*}" | cut -c1-64)=${pair#*=}"; fi
    done | sha256sum | cut -d' ' -f1) $entrypoint"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
        in_registry "$1"; then
        echo "[images] $ref cached"
        return 0
    fi
    dir="$(mktemp -d)"
    mkdir -p "$dir/tmp" "$dir/var/log"
    chmod 1777 "$dir/tmp"
    for pair in "$@"; do
        if [ "${pair#@}" != "$pair" ]; then
            link_target="${pair%%=*}"
            mkdir -p "$(dirname "$dir/${pair#*=}")" && ln -s "${link_target#@}" "$dir/${pair#*=}" && continue
        fi
        install -D -m 0755 "${pair%%=*}" "$dir/${pair#*=}"
    done
    local start_with="ENTRYPOINT $entrypoint"
    [ "${entrypoint#CMD }" = "$entrypoint" ] || start_with="$entrypoint"
    tar -C "$dir" -c . | docker import --change "$start_with" --change 'ENV PATH=/usr/local/bin:/bin' - "$ref" >/dev/null
    rm -rf "$dir"
    docker push -q "$ref" >/dev/null
    echo "$want" > "$stamp"
    echo "[images] $ref pushed in $((SECONDS - start))s"
}

etcd="$(v etcd)"
kubernetes="$(v kubernetes)"
image "etcd:${etcd#v}-0" '[]' "$bin/etcd=usr/local/bin/etcd" "$bin/etcdctl=usr/local/bin/etcdctl" \
    "$bin/etcdutl=usr/local/bin/etcdutl"
# The pinned release and, asked for, the previous minor (the toolchain's bin-previous/), which upgrades start from.
releases=("$kubernetes=$bin")
if [ -n "$previous" ]; then
    if [ ! -x "$KDW_PREVIOUS_BINARY_DIR/kube-apiserver" ]; then
        echo "[images] no previous minor in $KDW_PREVIOUS_BINARY_DIR: run npm run toolchain" >&2
        exit 1
    fi
    releases+=("$(v kubernetesPrevious)=$KDW_PREVIOUS_BINARY_DIR")
fi
for release in "${releases[@]}"; do
    for component in kube-apiserver kube-controller-manager kube-scheduler; do
        image "$component:${release%%=*}" '[]' "${release#*=}/$component=usr/local/bin/$component"
    done
done
image "pause:$(v pause)" '["/pause"]' "$bin/pause=pause"
image "coredns/coredns:$(v coredns)" '["/coredns"]' "$bin/coredns=coredns"
# Where a mirror keeps kube-vip (ghcr.io/kube-vip/kube-vip upstream): see kubeVipImage in components/apiServerVip.ts.
image "kube-vip/kube-vip:$(v kubeVip)" '["/kube-vip"]' "$bin/kube-vip=kube-vip"
image "metrics-server/metrics-server:$(v metricsServer)" '["/metrics-server"]' "$bin/metrics-server=metrics-server"

# kube-router's image, laid out as upstream's: the binary, and the iptables (nf_tables and legacy) and ipset it runs,
# here from Debian's packages with the libraries they need and busybox for a shell. iptables-wrapper-installer.sh is
# upstream's own (kube-router's module): its wrapper picks, on each worker, the mode that worker's kube-proxy uses.
kube_router_image() {
    local name ref module installer debs want stamp image_root start=$SECONDS debian_packages=()
    name="cloudnativelabs/kube-router:$(v kubeRouter)"
    ref="$registry/$name"
    module="$(go mod download -json "github.com/cloudnativelabs/kube-router/v2@$(v kubeRouter)" | node -e '
        let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => console.log(JSON.parse(s).Dir));')"
    installer="$module/build/image-assets/iptables-wrapper-installer.sh"
    debs="$cache/kube-router-debs"
    if [ ! -f "$debs/complete" ]; then
        rm -rf "$debs" && mkdir -p "$debs"
        # iptables and ipset and every package they depend on (libc included), as apt resolves them here.
        mapfile -t debian_packages < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances iptables ipset | grep -v '^ ' | grep -v '^<' | sort -u)
        (cd "$debs" && apt-get download -q "${debian_packages[@]}" >/dev/null 2>&1) ||
            (apt-get update -qq && cd "$debs" && apt-get download -q "${debian_packages[@]}" >/dev/null)
        touch "$debs/complete"
    fi
    want="$(sha256sum "$bin/kube-router" "$installer" "$busybox" "$here/images.sh" | cut -d' ' -f1 | sha256sum | cut -c1-16) $(cd "$debs" && find . -name '*.deb' | sort | tr '\n' ' ')"
    stamp="$(stamp_of "$ref")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && in_registry "$name"; then
        echo "[images] $ref cached"
        return 0
    fi
    image_root="$(mktemp -d)"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$image_root"; done
    rm -rf "$image_root/usr/share/doc" "$image_root/usr/share/man" "$image_root/usr/share/locale" "$image_root/usr/share/lintian"
    mkdir -p "$image_root/bin" "$image_root/tmp" "$image_root/run" "$image_root/usr/local/bin" && chmod 1777 "$image_root/tmp"
    install -m 0755 "$busybox" "$image_root/bin/busybox"
    for applet in sh grep wc rm ln cat; do ln -sf busybox "$image_root/bin/$applet"; done
    install -m 0755 "$bin/kube-router" "$image_root/usr/local/bin/kube-router"
    ln -sf xtables-nft-multi "$image_root/usr/sbin/iptables"
    install -m 0755 "$installer" "$image_root/iptables-wrapper-installer.sh"
    chroot "$image_root" /bin/sh /iptables-wrapper-installer.sh --no-sanity-check
    [ "$(readlink "$image_root/usr/sbin/iptables-save")" = /usr/sbin/iptables-wrapper ] ||
        { echo "[images] kube-router: iptables-save is not upstream's wrapper after its installer ran" >&2; exit 1; }
    chroot "$image_root" /usr/sbin/ipset --version >/dev/null ||
        { echo "[images] kube-router: ipset does not run in the image" >&2; exit 1; }
    tar -C "$image_root" -c . | docker import --change 'ENTRYPOINT ["/usr/local/bin/kube-router"]' \
        --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$ref" >/dev/null
    rm -rf "$image_root"
    docker push -q "$ref" >/dev/null
    echo "$want" > "$stamp"
    echo "[images] $ref pushed in $((SECONDS - start))s"
}
kube_router_image

# The smoke-test image: busybox with its applets linked, and a page for httpd to serve.
smoke="$cache/smoke"
rm -rf "$smoke" && mkdir -p "$smoke/www"
echo "kube-dumb-way smoke test" > "$smoke/www/index.html"
links=()
for applet in sh httpd nslookup wget nc timeout cat echo hostname sleep ls ip ping; do links+=("$busybox=bin/$applet"); done
image "kdw-smoke:2" '["/bin/sh", "-c", "exec httpd -f -vv -p 80 -h /www"]' "$busybox=bin/busybox" "${links[@]}" \
    "$smoke/www/index.html=www/index.html"

# ---------------------------------------------------------------------------------------------------
# The conformance tests' images, under the names and tags the e2e framework of the pinned release asks for once every
# registry it knows (but the deliberately invalid one) is this registry; that mapping, the suite's KUBE_TEST_REPO_LIST,
# is written to $state/kube-test-repo-list.yaml. Nothing comes from an image registry: agnhost and nnp are the
# toolchain's builds of the pinned release, the rest is Debian (debootstrap), the toolchain's pause and its build of
# busybox's release.
[ -n "$conformance" ] || exit 0
# shellcheck source=scripts/debian-mirror.sh
source "$here/debian-mirror.sh"
# shellcheck source=scripts/install-missing.sh
source "$here/install-missing.sh"
if [ ! -x "$bin/e2e.test" ] || [ ! -x "$bin/agnhost" ] || [ ! -x "$bin/nnp" ] || [ ! -x "$bin/conformance/busybox" ]; then
    echo "[images] no e2e.test, agnhost, nnp or conformance/busybox in $bin: run npm run toolchain" >&2
    exit 1
fi
repo_list="$state/kube-test-repo-list.yaml"
for key in promoterE2eRegistry buildImageRegistry gcEtcdRegistry gcRegistry sigStorageRegistry privateRegistry \
    dockerLibraryRegistry cloudProviderGcpRegistry; do
    echo "$key: $registry"
done > "$repo_list"
e2e_images="$("$bin/e2e.test" --kube-test-repo-list="$repo_list" --list-images 2>/dev/null)"
tags_of() { # NAME: every NAME:TAG the suite asks for
    grep -E "^$registry/$1:" <<<"$e2e_images" | sed "s|^$registry/||" | grep . ||
        { echo "[images] the e2e suite names no $1 image" >&2; exit 1; }
}
if [ "$(tags_of pause)" != "pause:$(v pause)" ]; then
    echo "[images] the e2e suite asks for $(tags_of pause), the cluster runs pause:$(v pause)" >&2
    exit 1
fi

# A Debian root filesystem with what the test pods run besides agnhost itself (the upstream images are Alpine and
# Debian with these same tools): dig, curl, nc, ss, socat, nginx.
packages=bind9-dnsutils,curl,netcat-openbsd,iproute2,socat,procps,nginx-light,ca-certificates
rootfs="$cache/conformance-rootfs-$(echo "bookworm $packages" | sha256sum | cut -c1-12).tar"
if [ ! -f "$rootfs" ]; then
    command -v debootstrap >/dev/null || install_missing images.sh debootstrap
    start=$SECONDS
    work="$(mktemp -d)"
    debootstrap --variant=minbase --include="$packages" bookworm "$work" "$(debian_mirror)" > "$cache/conformance-debootstrap.log" 2>&1 ||
        { echo "[images] debootstrap failed: $cache/conformance-debootstrap.log" >&2; exit 1; }
    rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/* "$work"/usr/share/doc "$work"/usr/share/man \
        "$work"/usr/share/locale "$work"/var/log/*.log
    tar -C "$work" --numeric-owner -cf "$rootfs.tmp" . && mv "$rootfs.tmp" "$rootfs"
    rm -rf "$work"
    echo "[images] Debian root filesystem for the test images made in $((SECONDS - start))s"
fi
base="kdw-conformance-base:$(basename "$rootfs" .tar | sed 's/^conformance-rootfs-//')"
docker image inspect "$base" >/dev/null 2>&1 || docker import "$rootfs" "$base" >/dev/null

# debian_image NAME:TAG DIR CHANGE...: the Debian base plus the files of DIR (none if empty) as a second layer, with
# Dockerfile-style CHANGEs (ENTRYPOINT, CMD). The base layer is the same in each, so a worker pulls it once.
debian_image() {
    local name="$1" ref="$registry/$1" files="$2" want stamp ctr start=$SECONDS change changes=()
    shift 2
    for change in "$@"; do changes+=(--change "$change"); done
    stamp="$(stamp_of "$ref")"
    want="$base $([ -z "$files" ] || (cd "$files" && find . -type f -print0 | sort -z | xargs -0r sha256sum) | sha256sum | cut -c1-16) $*"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && in_registry "$name"; then
        echo "[images] $ref cached"
        return 0
    fi
    ctr="$(docker create "$base" /bin/true)"
    [ -z "$files" ] || docker cp "$files/." "$ctr:/"
    docker commit "${changes[@]}" "$ctr" "$ref" >/dev/null
    docker rm "$ctr" >/dev/null
    docker push -q "$ref" >/dev/null
    echo "$want" > "$stamp"
    echo "[images] $ref pushed in $((SECONDS - start))s"
}

agnhost_src="$(go mod download -json "k8s.io/kubernetes@$kubernetes" | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => console.log(JSON.parse(s).Dir));')/test/images/agnhost"
# As upstream's Dockerfile lays it out: /agnhost (and agnhost-2), porter's TLS pair, netexec's /uploads.
agnhost_dir="$cache/agnhost"
rm -rf "$agnhost_dir" && mkdir -p "$agnhost_dir/uploads"
install -m 0755 "$bin/agnhost" "$agnhost_dir/agnhost" && ln -s agnhost "$agnhost_dir/agnhost-2"
install -m 0644 "$agnhost_src/porter/localhost.crt" "$agnhost_src/porter/localhost.key" "$agnhost_dir/"
# agnhost under its own version only (the suite also names older agnhost releases, which this build is not).
agnhost="agnhost:$("$bin/agnhost" --version | sed 's/.* //')"
tags_of agnhost | grep -qx "$agnhost" || { echo "[images] the e2e suite does not ask for $agnhost" >&2; exit 1; }
debian_image "$agnhost" "$agnhost_dir" 'ENTRYPOINT ["/agnhost"]' 'CMD ["pause"]'
for ref in $(tags_of glibc-dns-testing); do debian_image "$ref" "" 'CMD ["/bin/bash"]'; done
for ref in $(tags_of nginx); do debian_image "$ref" "" 'CMD ["nginx", "-g", "daemon off;"]'; done
# The pinned release's nonewprivs image (test/images/nonewprivs): nnp, setuid root, which prints the effective uid.
nnp_dir="$cache/nonewprivs"
rm -rf "$nnp_dir" && mkdir -p "$nnp_dir/usr/local/bin"
install -m 4755 "$bin/nnp" "$nnp_dir/usr/local/bin/nnp"
for ref in $(tags_of nonewprivs); do debian_image "$ref" "$nnp_dir" 'CMD ["nnp"]'; done
# nonroot (test/images/nonroot): the base run as user 1234.
for ref in $(tags_of nonroot); do debian_image "$ref" "" 'USER 1234' 'CMD ["/bin/bash"]'; done
# kitten and nautilus (test/images/kitten, nautilus): agnhost's test-webserver serving a picture and its data.json,
# the files of the pinned release's folders (the suite names tag 1.8; the release's own folders say 1.9, with the same
# files on a newer agnhost).
for picture in kitten nautilus; do
    picture_dir="$cache/$picture"
    rm -rf "$picture_dir" && cp -a "$agnhost_dir" "$picture_dir"
    cp "$agnhost_src/../$picture/html/$picture.jpg" "$agnhost_src/../$picture/html/data.json" "$picture_dir/"
    for ref in $(tags_of "$picture"); do debian_image "$ref" "$picture_dir" 'ENTRYPOINT ["/agnhost"]' 'CMD ["test-webserver"]'; done
done

# busybox as upstream's image has it: busybox's own release (the toolchain's conformance/busybox, not Debian's build).
upstream_busybox="$bin/conformance/busybox"
links=()
for applet in $("$upstream_busybox" --list); do
    [ "$applet" = busybox ] || links+=("@busybox=bin/$applet")
done
# As upstream's image starts: no entrypoint, CMD sh (a pod's args alone are then its command).
for ref in $(tags_of busybox); do image "$ref" 'CMD ["sh"]' "$upstream_busybox=bin/busybox" "${links[@]}"; done

# The sample API server that the aggregator test registers, and the etcd it keeps its objects in: the toolchain's builds
# of the versions the suite names (versions.json conformanceImages; its sample-apiserver 1.N.P is k8s.io/sample-apiserver
# v0.N.P, as upstream tags it), each refused if the suite asks for another.
sample_apiserver="sample-apiserver:$(v conformanceImages.sampleApiserver | sed 's/^v0\./1./')"
sample_etcd="etcd:$(v conformanceImages.etcd | sed 's/^v//')-0"
for ref in "$sample_apiserver" "$sample_etcd"; do
    tags_of "${ref%%:*}" | grep -qx "$ref" || {
        echo "[images] the e2e suite asks for $(tags_of "${ref%%:*}" | tr '\n' ' ')not $ref: set versions.json conformanceImages to match" >&2
        exit 1
    }
done
image "$sample_apiserver" '["/kube-sample-apiserver"]' "$bin/conformance/kube-sample-apiserver=kube-sample-apiserver"
image "$sample_etcd" '[]' "$bin/conformance/etcd=usr/local/bin/etcd"

#!/usr/bin/env bash
# V_* are set by the eval of versions.json below; node -e scripts are in single quotes on purpose.
# shellcheck disable=SC2154,SC2016
# Builds the offline toolchain from Go modules (the only source reachable here) into a cache outside the
# work tree: see scripts/toolchain/lib.sh for where, and scripts/toolchain/README.md for what and why.
#
#   npm run toolchain            # or: bash scripts/toolchain.sh
#   KDW_TOOLCHAIN_JOBS=1 ...     # items built at once (default 2)
#   KDW_TOOLCHAIN_ONLY="etcd runc" ...   # build only these items
#   KDW_TOOLCHAIN_SKIP="kube-bench" ...  # build all but these (CI builds the items only some suites need beside the others)
#
# One line per item: "[toolchain] <item> <version> built in Ns" / "... cached" / "... FAILED ...".
# An item is skipped when its binaries exist and state/<item>.json records the same module@version; an item built
# before at the same version (in any toolchain folder) is copied from the item store instead of rebuilt.
# A failed item keeps its log in logs/<item>.log; the script goes on with the others and exits 1 at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/toolchain/lib.sh
source "$here/toolchain/lib.sh"
# shellcheck source=scripts/debian-mirror.sh
source "$here/debian-mirror.sh"
recipes="$here/toolchain"

TC="$(kdw_toolchain_home)"
BIN="$TC/bin" PREVIOUS="$TC/bin-previous" LOGS="$TC/logs" WORK="$TC/work" STATE="$TC/state"
# Every item ever built, by name and a key of its version, module and recipe: a toolchain folder for new pins
# builds only the items whose pins changed and copies the rest from here.
STORE="$(kdw_toolchain_store)"
export PULUMI_HOME="$TC/pulumi-home"
mkdir -p "$BIN" "$TC/plugins" "$LOGS" "$WORK" "$STATE" "$STORE" "$PULUMI_HOME"
rm -f "$STATE"/*.failed

# -dwarf=false: every item is linked with -s -w, which drops the debug information the compiler would still make;
# not making it saves about a fifth of the compile time (etcd cold: user+sys 156.8 s -> 124.6 s), the binaries the same.
export GOFLAGS="-mod=mod -buildvcs=false -gcflags=all=-dwarf=false"
# The compiler and linker let their heap grow to 5 times what is live before they collect garbage, not Go's default 2
# (GOGC=100): a fifth less CPU for the same binaries (etcdctl from an empty build cache: user+sys 49.1 s -> 39.6 s, max
# RSS 250 -> 369 MB, the binary byte for byte the same; 2026-12-05). Within 4 GiB a process (GOMEMLIMIT), so that
# Kubernetes' links (several GiB each, two at once) take no more memory than they would at the default: past the limit
# the collector runs as often as the default's would for a process with up to 2 GiB live.
export GOGC="${GOGC:-400}" GOMEMLIMIT="${GOMEMLIMIT:-4GiB}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED=0
export PULUMI_SKIP_UPDATE_CHECK=true
JOBS="${KDW_TOOLCHAIN_JOBS:-2}"

# All pinned versions as shell variables: V_kubernetes, V_plugins_tls, ... (a module path's dots and slashes as "_").
eval "$(node -e '
  const v = require(process.argv[1]);
  const out = (k, x) => typeof x === "object"
    ? Object.entries(x).forEach(([k2, y]) => out(k + "_" + k2, y))
    : console.log(("V_" + k).replace(/[^A-Za-z0-9_]/g, "_") + "=" + JSON.stringify(String(x)));
  Object.entries(v).filter(([k]) => k !== "$comment").forEach(([k, x]) => out(k, x));
' "$KDW_VERSIONS_FILE")"

say() { echo "[toolchain] $*"; }
# An item's key: its name, version, module, the recipe number and the text of its build function, so a changed
# recipe rebuilds exactly the items it touches.
store_key() { # NAME VERSION MODULE
  { printf '%s\n' "$@" "$KDW_TOOLCHAIN_RECIPE"; declare -f "build_${1//-/_}"; } | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------------------------------------------
# Helpers used inside an item's build function (which runs in its own scratch folder, output to its log)

# wrapper NAME GOVERSION: an empty module in the current folder (the scratch folder of the item).
wrapper() {
  printf 'module kdw.local/toolchain/%s\n\ngo %s\n' "$1" "$2" > go.mod
}

# modfile MODULE@VERSION: path of that module's go.mod in the module cache (downloads it).
modfile() {
  go mod download -json "$1" | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const j = JSON.parse(s); if (j.Error) { console.error(j.Error); process.exit(1); } console.log(j.GoMod); });'
}

# moddir MODULE@VERSION: the unpacked module in the module cache.
moddir() {
  go mod download -json "$1" | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const j = JSON.parse(s); if (j.Error) { console.error(j.Error); process.exit(1); } console.log(j.Dir); });'
}

# modtime MODULE@VERSION: the commit time the proxy records, as 2026-01-02T03:04:05Z, from the module's .info file in
# the module cache (`go mod download -json` prints a Time only when it downloads the module itself). Fails without one,
# rather than stamp an empty build date.
modtime() {
  go mod download -json "$1" | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const j = JSON.parse(s), time = j.Time || (j.Info && JSON.parse(require("fs").readFileSync(j.Info, "utf8")).Time);
      if (!time) { console.error(`no commit time for ${process.argv[1]}`); process.exit(1); }
      console.log(time); });' "$1"
}

# copy_replaces GOMOD: repeat in ./go.mod the replace directives of GOMOD that point at another module
# (a dependency's replaces are ignored by go, and local ones ("../sdk") cannot be followed).
copy_replaces() {
  go mod edit -json "$1" | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      for (const r of JSON.parse(s).Replace || []) {
        if (!r.New.Version) continue;
        const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
        console.log(old + "=" + r.New.Path + "@" + r.New.Version);
      }});' | while read -r rep; do go mod edit -replace "$rep"; done
}

# install_bins FILE...: move freshly built files into bin/.
install_bins() {
  local f
  for f in "$@"; do
    mv -f "$f" "$BIN/$(basename "$f")"
  done
}

# ---------------------------------------------------------------------------------------------------
# Items. Each build_<item> runs in $WORK/<item> with output to logs/<item>.log and puts its binaries in bin/.

build_pulumi() {
  local v="$V_pulumi" pkgmod
  pkgmod="$(modfile "github.com/pulumi/pulumi/pkg/v3@$v")"
  wrapper pulumi "$(go mod edit -json "$pkgmod" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Go))')"
  go mod edit -require "github.com/pulumi/pulumi/pkg/v3@$v" -require "github.com/pulumi/pulumi/sdk/v3@$v"
  copy_replaces "$pkgmod"
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$v"
  go build -trimpath -o out/pulumi \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  install_bins out/pulumi
}

# Pulumi's official plugins and Node.js language host whose Go modules the proxy refuses are built from the
# unmodified upstream source archives (`git archive` of the release tag) in $UPSTREAM, each checked against the
# sha256 that versions.json records before it is unpacked; their dependencies come from the proxy.
UPSTREAM="${KDW_UPSTREAM_DIR:-$KDW_REPO_ROOT/../shared/upstream}"
upstream_field() { node -p "require(process.argv[1]).upstream[process.argv[2]][process.argv[3]]" "$KDW_VERSIONS_FILE" "$1" "$2"; }

# check_upstream NAME: a one-sentence error, and failure, unless the archive is there with its pinned sha256.
check_upstream() {
  local name="$1" file want have
  file="$UPSTREAM/$(upstream_field "$name" archive)"
  want="$(upstream_field "$name" sha256)"
  if [ ! -f "$file" ]; then
    echo "the source archive $file ($name) is missing: put the unmodified upstream archive there or point KDW_UPSTREAM_DIR at the folder that holds it"
    return 1
  fi
  have="$(sha256sum "$file" | cut -d' ' -f1)"
  if [ "$have" != "$want" ]; then
    echo "the source archive $file has sha256 $have, not the $want that versions.json records for upstream.$name, so it is not the unmodified upstream release"
    return 1
  fi
}

# unpack_upstream NAME: the checked archive's files in ./src, without its top folder. The archives are read only when
# an item must be built: a toolchain whose items are all in the item store needs none.
unpack_upstream() {
  check_upstream "$1"
  rm -rf src && mkdir src
  tar -xzf "$UPSTREAM/$(upstream_field "$1" archive)" -C src --strip-components=1
}

# The language host's go.mod replaces pkg/v3 and sdk/v3 with folders of the monorepo that the archive leaves out:
# the proxy's modules at the host's own release take their place.
build_pulumi_language_nodejs() {
  local v="$V_languageNodejs"
  unpack_upstream languageNodejs
  mkdir -p out
  (
    cd src/sdk/nodejs/cmd/pulumi-language-nodejs
    go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
      -require "github.com/pulumi/pulumi/pkg/v3@$v" -require "github.com/pulumi/pulumi/sdk/v3@$v"
    go mod tidy
    go build -tags osusergo,grpcnotrace -o ../../../../../out/pulumi-language-nodejs \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" .
  )
  install_bins out/pulumi-language-nodejs
}

# Resource plugins: the provider module lives in a subfolder of its repository and release tags are at the
# root, so the proxy can only serve it by the pseudo-version of the tagged commit. plugins.tsv maps each
# pinned release to that module version; a pin with no row there cannot be built.
plugin_row() { # NAME VERSION -> "module modversion cmd versionvar" or nothing
  awk -v n="$1" -v v="$2" '$1 == n && $2 == v { print $3, $4, $5, $6 }' "$recipes/plugins.tsv"
}

build_plugin() {
  local name="$1" v="$2" row mod modv cmd verv src
  row="$(plugin_row "$name" "$v")"
  if [ -z "$row" ]; then
    echo "no Go module version is known for the $name plugin $v: the proxy serves this provider module only at the"
    echo "versions in scripts/toolchain/plugins.tsv (the tag commit's pseudo-version answers 403 Forbidden)."
    return 1
  fi
  read -r mod modv cmd verv <<< "$row"
  # A scratch copy of the module: it is built as the main module, after its own generate step.
  src="$(moddir "$mod@$modv")"
  rm -rf src && cp -r "$src" src && chmod -R u+w src
  cd src
  # Local replaces (../sdk) point outside the module: use the required versions from the proxy instead.
  go mod edit -json | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      for (const r of JSON.parse(s).Replace || []) if (!r.New.Version) console.log(r.Old.Path); });' |
    while read -r old; do go mod edit -dropreplace "$old"; done
  if grep -q 'go:generate go run ./generate.go' "$cmd/main.go" 2>/dev/null; then
    (cd "$cmd" && VERSION="${v#v}" go run ./generate.go)
  fi
  go build -trimpath -o "../out/pulumi-resource-$name" -ldflags "-s -w -X $verv=${v#v}" "./$cmd"
  cd ..
  mv -f "out/pulumi-resource-$name" "$TC/plugins/"
}
# The official builds from upstream archives go without -trimpath, so that their build information keeps the -ldflags
# that set the release version: `go version -m` then shows the upstream module and its version.
# Resource plugins are kept off PATH (in plugins/ beside bin/): pulumi would use a plugin found there whatever its version.
build_plugin_command() {
  local v="$V_plugins_command"
  unpack_upstream command
  (cd src/provider && go build -o "$TC/plugins/pulumi-resource-command" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=${v#v}" ./cmd/pulumi-resource-command)
}
# A Terraform-bridged provider: its schema-embed.json is generated (what its Makefile does), not committed.
build_plugin_tls() {
  local v="$V_plugins_tls"
  unpack_upstream tls
  (cd src/provider/cmd/pulumi-resource-tls && VERSION="${v#v}" go run ./generate.go)
  (cd src/provider && go build -o "$TC/plugins/pulumi-resource-tls" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-tls/provider/v5/pkg/version.Version=${v#v}" ./cmd/pulumi-resource-tls)
}
build_plugin_kubernetes() { build_plugin kubernetes "$V_plugins_kubernetes"; }

# docker-machine: versions.json names module@version.
build_docker_machine() {
  local mv="$V_dockerMachine" mod v gomod gover
  mod="${mv%@*}" v="${mv#*@}"
  gomod="$(modfile "$mv")"
  gover="$(go mod edit -json "$gomod" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Go||"1.22"))')"
  wrapper docker-machine "$gover"
  go mod edit -require "$mv"
  copy_replaces "$gomod"
  go get "$mod/cmd/rancher-machine@$v"
  go build -trimpath -o out/docker-machine \
    -ldflags "-s -w -X $mod/version.Version=$v -X $mod/version.GitCommit=$mod@$v" "$mod/cmd/rancher-machine"
  install_bins out/docker-machine
}

# kubernetes_module ITEM [VERSION]: a wrapper module (in the item's scratch folder) that can build any package of
# k8s.io/kubernetes at VERSION (the pinned release by default); sets K8S_LDFLAGS to the version stamps of an official
# build of that release.
kubernetes_module() {
  local v="${2:-$V_kubernetes}" k8smod staging minor date p
  k8smod="$(modfile "k8s.io/kubernetes@$v")"
  minor="${v#v1.}" minor="${minor%%.*}"
  staging="v0.${v#v1.}"
  wrapper "$1" "$(go mod edit -json "$k8smod" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Go))')"
  grep '^godebug ' "$k8smod" >> go.mod || true
  # k8s.io/kubernetes replaces its staging modules (required at v0.0.0) with ./staging/src/...: use the
  # published staging modules of the same release instead (v1.37.2 -> v0.37.2).
  go mod edit -json "$k8smod" | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const j = JSON.parse(s), req = new Set(j.Require.map((r) => r.Path));
      for (const r of j.Replace || []) if (r.New.Path.startsWith("./staging/") && req.has(r.Old.Path)) console.log(r.Old.Path); });' |
    while read -r m; do go mod edit -replace "$m=$m@$staging"; done
  copy_replaces "$k8smod"
  date="$(modtime "k8s.io/kubernetes@$v")"
  K8S_LDFLAGS="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    K8S_LDFLAGS+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
}

# kubernetes_release ITEM VERSION DEST [BINS]: Kubernetes' binaries (BINS, else K8S_BINS; one build: its link steps need
# several GiB each) into DEST.
K8S_BINS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
# The previous minor's: what a cluster runs. Not kubectl: the pinned release's speaks to a cluster one minor older (the
# skew policy's client range), and kubectl's own packages are a twentieth of the build, for a binary nothing runs.
K8S_PREVIOUS_BINS="${K8S_BINS% kubectl}"
kubernetes_release() {
  local v="$2" dest="$3" bins="${4:-$K8S_BINS}" pkgs=() b
  kubernetes_module "$1" "$v"
  for b in $bins; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  go get "${pkgs[@]/%/@$v}"
  mkdir -p out "$dest"
  go build -trimpath -ldflags "$K8S_LDFLAGS" -o out/ "${pkgs[@]}"
  for b in $bins; do mv -f "out/$b" "$dest/$b"; done
}
build_kubernetes() { kubernetes_release kubernetes "$V_kubernetes" "$BIN"; }
# The previous minor, for upgrades: its own folder with bin/'s layout (see PREVIOUS below).
build_kubernetes_previous() { kubernetes_release kubernetes-previous "$V_kubernetesPrevious" "$PREVIOUS" "$K8S_PREVIOUS_BINS"; }

# The conformance suite of the same release: the e2e test binary, agnhost, the program its test pods run (the image
# tag the suite asks for is agnhost's VERSION file, stamped into the binary as upstream's Makefile does), nnp, what
# the nonewprivs image runs (the test of allowPrivilegeEscalation), and the Ginkgo CLI at the version the suite is
# built with, which runs it over several processes as sonobuoy does.
build_kubernetes_e2e() {
  local v="$V_kubernetes" agnhost=k8s.io/kubernetes/test/images/agnhost nnp=k8s.io/kubernetes/test/images/nonewprivs
  kubernetes_module kubernetes-e2e
  go get "k8s.io/kubernetes/test/e2e@$v" "$agnhost@$v" "$nnp@$v"
  mkdir -p out
  go test -c -trimpath -ldflags "$K8S_LDFLAGS" -o out/e2e.test k8s.io/kubernetes/test/e2e
  go build -trimpath -ldflags "-s -w -X main.Version=$(cat "$(moddir "k8s.io/kubernetes@$v")/test/images/agnhost/VERSION")" \
    -o out/agnhost "$agnhost"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o out/nnp "$nnp"
  go build -trimpath -ldflags "-s -w" -o out/ginkgo github.com/onsi/ginkgo/v2/ginkgo
  install_bins out/e2e.test out/agnhost out/nnp out/ginkgo
}

# kube-bench (the CIS benchmark runner): served by the proxy but missing from the checksum database, with its version
# list refused, so `go install` cannot fetch it; the module folder is built as the main module instead.
build_kube_bench() {
  local v="$V_kubeBench" m=github.com/aquasecurity/kube-bench
  rm -rf src && cp -r "$(GONOSUMDB=$m moddir "$m@$v")" src && chmod -R u+w src
  (cd src && go build -trimpath -ldflags "-s -w -X $m/cmd.KubeBenchVersion=${v#v}" -o ../out/kube-bench .)
  install_bins out/kube-bench
}

# pause: the C program from the Kubernetes module (build/pause/linux/pause.c), built the way its Makefile does.
build_pause() {
  local v="$V_kubernetes" dir tag
  dir="$(moddir "k8s.io/kubernetes@$v")/build/pause"
  tag="$(sed -n 's/^TAG ?= *//p' "$dir/Makefile")"
  echo "pause $tag from k8s.io/kubernetes@$v"
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-$v" -o out-pause "$dir/linux/pause.c"
  mkdir -p out && mv out-pause out/pause && install_bins out/pause
}

# The busybox of the conformance suite's busybox image: busybox's own release, as upstream's image is (Debian's binary
# reverts an upstream change to ash that the suite tests: environment variables whose names are not shell identifiers,
# such as a Secret's key data-1, reach a shell's children). Built static with busybox's default configuration from its
# release archive, which Debian's mirror keeps as the package's original source, checked against versions.json's sha256.
build_conformance_busybox() {
  local v="$V_conformanceBusybox_version" tool
  for tool in gcc make bzip2; do
    command -v "$tool" >/dev/null ||
      { echo "conformance-busybox needs $tool (Debian: apt-get install -y --no-install-recommends gcc make bzip2 libc6-dev)" >&2; return 1; }
  done
  curl -fsS --retry 3 -o src.tar.bz2 "$(debian_mirror)/$V_conformanceBusybox_debianPool"
  echo "$V_conformanceBusybox_sha256  src.tar.bz2" | sha256sum --check --quiet ||
    { echo "$V_conformanceBusybox_archive: not the sha256 versions.json pins" >&2; return 1; }
  tar -xjf src.tar.bz2
  make -C "busybox-$v" defconfig
  sed -i 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/' "busybox-$v/.config"
  grep -qx CONFIG_STATIC=y "busybox-$v/.config"
  make -C "busybox-$v" -j "$(nproc)" busybox
  mkdir -p "$BIN/conformance" && mv -f "busybox-$v/busybox" "$BIN/conformance/busybox"
}

# etcd: the server's main package is in the repository's root module, which the proxy does not serve at
# 3.6.x; scripts/toolchain/etcd/main.go is the same one-line main over the served server/v3 module.
# etcd_release VERSION DEST TOOLS: etcd (and, when TOOLS is yes, etcdctl and etcdutl, which takes and verifies
# snapshots) of VERSION into DEST.
etcd_release() {
  local v="$1" dest="$2" tools="$3"
  mkdir -p etcd && cp "$recipes/etcd/main.go" etcd/
  wrapper etcd 1.26.0
  go mod edit -require "go.etcd.io/etcd/server/v3@$v"
  if [ "$tools" = yes ]; then
    go mod edit -require "go.etcd.io/etcd/etcdctl/v3@$v" -require "go.etcd.io/etcd/etcdutl/v3@$v"
  fi
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o out/etcd ./etcd
  if [ "$tools" = yes ]; then
    go get "go.etcd.io/etcd/etcdctl/v3@$v" "go.etcd.io/etcd/etcdutl/v3@$v"
    go build -trimpath -ldflags "-s -w" -o out/etcdctl go.etcd.io/etcd/etcdctl/v3
    go build -trimpath -ldflags "-s -w" -o out/etcdutl go.etcd.io/etcd/etcdutl/v3
  fi
  mkdir -p "$dest" && mv -f out/etcd* "$dest/"
}
build_etcd() { etcd_release "$V_etcd" "$BIN" yes; }

# What the conformance suite's test pods run that is built from Go modules, at the versions its e2e.test names
# (versions.json conformanceImages), in bin/conformance/ (scripts/images.sh makes the images): the sample API server
# that the aggregator test registers, and the etcd release it stores its objects in, apart from the cluster's etcd.
build_conformance_etcd() { etcd_release "$V_conformanceImages_etcd" "$BIN/conformance" no; }
build_sample_apiserver() {
  local v="$V_conformanceImages_sampleApiserver" m=k8s.io/sample-apiserver
  wrapper sample-apiserver 1.26.0
  go get "$m@$v"
  mkdir -p out "$BIN/conformance"
  go build -trimpath -ldflags "-s -w" -o out/kube-sample-apiserver "$m"
  mv -f out/kube-sample-apiserver "$BIN/conformance/"
}

build_containerd() {
  local v="$V_containerd" m=github.com/containerd/containerd/v2
  wrapper containerd 1.26.0
  go get "$m/cmd/containerd@$v" "$m/cmd/containerd-shim-runc-v2@$v" "$m/cmd/ctr@$v"
  mkdir -p out
  go build -trimpath -tags "no_btrfs netgo osusergo" -o out/ \
    -ldflags "-s -w -X $m/version.Version=$v -X $m/version.Package=github.com/containerd/containerd" \
    "$m/cmd/containerd" "$m/cmd/containerd-shim-runc-v2" "$m/cmd/ctr"
  install_bins out/containerd out/containerd-shim-runc-v2 out/ctr
}

# runc needs cgo and libseccomp (static, so the binary runs on any host).
build_runc() {
  local v="$V_runc"
  if [ ! -e /usr/lib/x86_64-linux-gnu/libseccomp.a ] && [ ! -e /usr/lib/aarch64-linux-gnu/libseccomp.a ]; then
    echo "installing libseccomp-dev"
    { apt-get install -y --no-install-recommends libseccomp-dev ||
      { apt-get update && apt-get install -y --no-install-recommends libseccomp-dev; }; } >/dev/null
  fi
  wrapper runc 1.26.0
  go get "github.com/opencontainers/runc@$v"
  CGO_ENABLED=1 go build -trimpath -buildmode=pie -tags "seccomp netgo osusergo" -o out/runc \
    -ldflags "-s -w -X main.version=${v#v} -linkmode external -extldflags -static-pie" github.com/opencontainers/runc
  install_bins out/runc
}

# The workers' load balancer is this project's own program; its "version" is a hash of its source.
build_apiserver_lb() {
  go build -C "$KDW_REPO_ROOT/tools/apiserver-lb" -trimpath -ldflags "-s -w" -o "$PWD/out/kdw-apiserver-lb" .
  install_bins out/kdw-apiserver-lb
}
# The qemu/KVM machine driver: a docker-machine plugin (`--driver qemu`), found on PATH beside docker-machine and built
# against the same rancher/machine module (its go.mod requires versions.json's dockerMachine version).
build_docker_machine_driver_qemu() {
  go build -C "$KDW_REPO_ROOT/tools/docker-machine-driver-qemu" -trimpath -ldflags "-s -w" -o "$PWD/out/docker-machine-driver-qemu" .
  install_bins out/docker-machine-driver-qemu
}
source_version() { # DIR: a version string that changes whenever a file of DIR does
  (cd "$1" && find . -type f -name '*.go' -o -name go.mod | sort | xargs sha256sum | sha256sum | cut -c1-12 | sed 's/^/src-/')
}

CNI_BINS="bridge host-local loopback portmap"
build_cni_plugins() {
  local v="$V_cniPlugins" m=github.com/containernetworking/plugins
  wrapper cni-plugins 1.26.0
  go get "$m/plugins/main/bridge@$v"
  mkdir -p out
  go build -trimpath -o out/ -ldflags "-s -w -X $m/pkg/utils/buildversion.BuildVersion=$v" \
    "$m/plugins/main/bridge" "$m/plugins/ipam/host-local" "$m/plugins/main/loopback" "$m/plugins/meta/portmap"
  mkdir -p "$BIN/cni"
  for b in $CNI_BINS; do mv -f "out/$b" "$BIN/cni/$b"; done
}

build_crictl() {
  local v="$V_crictl"
  wrapper crictl 1.26.0
  go get "sigs.k8s.io/cri-tools/cmd/crictl@$v"
  go build -trimpath -o out/crictl -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$v" \
    sigs.k8s.io/cri-tools/cmd/crictl
  install_bins out/crictl
}

build_coredns() {
  local v="$V_coredns"
  local gomod
  gomod="$(modfile "github.com/coredns/coredns@$v")"
  wrapper coredns 1.26.0
  copy_replaces "$gomod"
  go get "github.com/coredns/coredns@$v"
  go build -trimpath -o out/coredns -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$v" \
    github.com/coredns/coredns
  install_bins out/coredns
}

# kube-vip: the controllers' virtual IP for the API. The proxy serves v0.9.2, but the checksum database does not
# know it, so it is fetched without that lookup (its go.sum still pins every dependency).
build_kube_vip() {
  local v="$V_kubeVip" m=github.com/kube-vip/kube-vip
  export GONOSUMDB="$m"
  wrapper kube-vip 1.26.0
  go get "$m@$v"
  go build -trimpath -o out/kube-vip -ldflags "-s -w -X main.Version=$v -X main.Build=$m@$v" "$m"
  install_bins out/kube-vip
}

# kube-router: only its NetworkPolicy controller runs (components/networkPolicy.ts). The one release the proxy serves
# names dependencies with advisories since published; Go's minimal version selection lets this wrapper raise them
# (versions.json's kubeRouterRaisedModules), as kube-router's own later releases did, without a change to its source.
build_kube_router() {
  local v="$V_kubeRouter" m=github.com/cloudnativelabs/kube-router/v2 date
  date="$(modtime "$m@$v")"
  wrapper kube-router 1.26.0
  # shellcheck disable=SC2046 # one module@version per word
  go get "$m@$v" $(node -e 'for (const [m, v] of Object.entries(require(process.argv[1]).kubeRouterRaisedModules)) console.log(`${m}@${v}`)' "$KDW_VERSIONS_FILE")
  CGO_ENABLED=0 go build -trimpath -o out/kube-router \
    -ldflags "-s -w -X $m/pkg/version.Version=$v -X $m/pkg/version.BuildDate=$date" "$m/cmd/kube-router"
  install_bins out/kube-router
}

# metrics-server: the resource metrics API behind `kubectl top` and CPU autoscaling (components/resourceMetrics.ts).
# Its version lives where client-go's version package reads it, as its own Makefile sets it.
build_metrics_server() {
  local v="$V_metricsServer" m=sigs.k8s.io/metrics-server date
  date="$(modtime "$m@$v")"
  wrapper metrics-server 1.26.0
  go get "$m@$v"
  go build -trimpath -o out/metrics-server \
    -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.buildDate=$date" \
    "$m/cmd/metrics-server"
  install_bins out/metrics-server
}

# versitygw: an S3 gateway over a folder, the test hosts' object store for etcd snapshots (scripts/hosts.sh
# object-store); none of the cluster's hosts runs it.
build_versitygw() {
  local v="$V_versitygw" m=github.com/versity/versitygw date
  date="$(modtime "$m@$v")"
  wrapper versitygw 1.26.0
  go get "$m/cmd/versitygw@$v"
  go build -trimpath -o out/versitygw -ldflags "-s -w -X main.Version=$v -X main.Build=$m@$v -X main.BuildTime=$date" "$m/cmd/versitygw"
  install_bins out/versitygw
}

# ---------------------------------------------------------------------------------------------------
# The runner

# store_item DIR STATEFILE BIN...: keep an item's binaries and record in the item store (written aside, then moved,
# so an interrupted copy is never taken for a whole one).
store_item() {
  local dir="$1" state="$2" b
  shift 2
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  for b in "$@"; do mkdir -p "$(dirname "$dir.tmp/$(stored_name "$b")")" && cp "$BIN/$b" "$dir.tmp/$(stored_name "$b")"; done
  cp "$state" "$dir.tmp/item.json" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

# Artifact names are relative to bin/ and plugins sit beside it (../plugins/...): inside an item's store folder.
stored_name() { local b="$1"; echo "${b//..\//up/}"; }

# item NAME VERSION MODULE BIN...: build NAME (function build_NAME, dashes as underscores) unless cached.
item() {
  local name="$1" version="$2" module="$3"; shift 3
  local bins=("$@") log="$LOGS/$name.log" state="$STATE/$name.json" start=$SECONDS b ok=1
  local key stored
  key="$(store_key "$name" "$version" "$module")"
  stored="$STORE/$name/$key"
  for b in "${bins[@]}"; do [ -x "$BIN/$b" ] || ok=0; done
  if [ "$ok" = 1 ] && [ -f "$state" ] &&
     node -e 'process.exit(require(process.argv[1]).key === process.argv[2] ? 0 : 1)' "$state" "$key"; then
    [ -f "$stored/item.json" ] || store_item "$stored" "$state" "${bins[@]}"
    say "$name $version cached"
    return 0
  fi
  rm -f "$state"
  # A stored item counts only with every artifact the item now names (an artifact added to an item, as etcdutl to
  # etcd, is missing from what an earlier recipe stored): otherwise it is built again.
  local whole=1
  for b in "${bins[@]}"; do [ -f "$stored/$(stored_name "$b")" ] || whole=0; done
  if [ -f "$stored/item.json" ] && [ "$whole" = 1 ]; then
    for b in "${bins[@]}"; do
      if ! { mkdir -p "$(dirname "$BIN/$b")" && cp -f "$stored/$(stored_name "$b")" "$BIN/$b"; }; then
        say "$name $version: copying $b from the item store FAILED"
        touch "$STATE/$name.failed"
        return 1
      fi
    done
    cp "$stored/item.json" "$state"
    say "$name $version from the item store"
    return 0
  fi
  rm -rf "${WORK:?}/$name" && mkdir -p "$WORK/$name"
  # A background subshell, so that errexit holds inside the build function (it would not in an if); it ends by writing
  # the CPU time its processes took (bash's `times`, not in a pipeline, which would fork: the compilers' and linkers',
  # which go waits for).
  local rc=0 cpu
  (cd "$WORK/$name" && set -euo pipefail && "build_${name//-/_}" && times > "$WORK/$name.times") > "$log" 2>&1 &
  wait $! || rc=$?
  if [ "$rc" = 0 ]; then
    node -e '
      const fs = require("fs"), crypto = require("crypto"), path = require("path");
      const [state, bin, name, version, module, key, ...bins] = process.argv.slice(1);
      const artifacts = bins.map((b) => {
        const data = fs.readFileSync(path.join(bin, b));
        return { name: b, version, module, sha256: crypto.createHash("sha256").update(data).digest("hex"), size: data.length };
      });
      fs.writeFileSync(state, JSON.stringify({ item: name, version, module, key, artifacts }, null, 2) + "\n");
    ' "$state" "$BIN" "$name" "$version" "$module" "$key" "${bins[@]}"
    store_item "$stored" "$state" "${bins[@]}"
    # times' last line: its children's user and system time, as XmY.YYYs each.
    cpu="$(awk 'END { n = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] }; printf "%.0f", n }' \
      "$WORK/$name.times")"
    say "$name $version built in $((SECONDS - start))s (CPU ${cpu}s)"
  else
    say "$name $version FAILED after $((SECONDS - start))s (log: $log); its last lines:"
    tail -n 15 "$log" | sed 's/^/    /'
    touch "$STATE/$name.failed"
    return 1
  fi
}

# Run items in the background, at most $JOBS at once.
spawn() {
  if [ -n "${KDW_TOOLCHAIN_ONLY:-}" ] && [[ " $KDW_TOOLCHAIN_ONLY " != *" $1 "* ]]; then return 0; fi
  if [[ " ${KDW_TOOLCHAIN_SKIP:-} " == *" $1 "* ]]; then return 0; fi
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  item "$@" &
}

say "building into $TC ($JOBS at a time; $(go env GOVERSION), GOTOOLCHAIN=$GOTOOLCHAIN)"
total_start=$SECONDS

# Longest first. Kubernetes' six binaries share one build (and its link steps need several GiB each).
# shellcheck disable=SC2086
spawn kubernetes "$V_kubernetes" "k8s.io/kubernetes@$V_kubernetes" $K8S_BINS
# shellcheck disable=SC2046,SC2086
spawn kubernetes-previous "$V_kubernetesPrevious" "k8s.io/kubernetes@$V_kubernetesPrevious" $(printf '../bin-previous/%s ' $K8S_PREVIOUS_BINS)
spawn pulumi "$V_pulumi" "github.com/pulumi/pulumi/pkg/v3@$V_pulumi" pulumi
spawn plugin-kubernetes "$V_plugins_kubernetes" "$(plugin_row kubernetes "$V_plugins_kubernetes" | awk '{print $1 "@" $2}')" ../plugins/pulumi-resource-kubernetes
upstream_module() { echo "$(upstream_field "$1" repository)@$(upstream_field "$1" commit)"; }
spawn plugin-tls "$V_plugins_tls" "$(upstream_module tls)" ../plugins/pulumi-resource-tls
spawn plugin-command "$V_plugins_command" "$(upstream_module command)" ../plugins/pulumi-resource-command
spawn containerd "$V_containerd" "github.com/containerd/containerd/v2@$V_containerd" containerd containerd-shim-runc-v2 ctr
spawn coredns "$V_coredns" "github.com/coredns/coredns@$V_coredns" coredns
spawn etcd "$V_etcd" "go.etcd.io/etcd/server/v3@$V_etcd" etcd etcdctl etcdutl
spawn docker-machine "${V_dockerMachine#*@}" "$V_dockerMachine" docker-machine
spawn pulumi-language-nodejs "$V_languageNodejs" "$(upstream_module languageNodejs)" pulumi-language-nodejs
spawn crictl "$V_crictl" "sigs.k8s.io/cri-tools@$V_crictl" crictl
spawn runc "$V_runc" "github.com/opencontainers/runc@$V_runc" runc
spawn cni-plugins "$V_cniPlugins" "github.com/containernetworking/plugins@$V_cniPlugins" \
  cni/bridge cni/host-local cni/loopback cni/portmap
spawn pause "$V_kubernetes" "k8s.io/kubernetes@$V_kubernetes" pause
spawn kube-vip "$V_kubeVip" "github.com/kube-vip/kube-vip@$V_kubeVip" kube-vip
spawn kube-router "$V_kubeRouter" "github.com/cloudnativelabs/kube-router/v2@$V_kubeRouter" kube-router
spawn metrics-server "$V_metricsServer" "sigs.k8s.io/metrics-server@$V_metricsServer" metrics-server
spawn conformance-busybox "$V_conformanceBusybox_version" "busybox@$V_conformanceBusybox_version" conformance/busybox
spawn conformance-etcd "$V_conformanceImages_etcd" "go.etcd.io/etcd/server/v3@$V_conformanceImages_etcd" conformance/etcd
spawn sample-apiserver "$V_conformanceImages_sampleApiserver" "k8s.io/sample-apiserver@$V_conformanceImages_sampleApiserver" \
  conformance/kube-sample-apiserver
spawn versitygw "$V_versitygw" "github.com/versity/versitygw@$V_versitygw" versitygw
spawn kube-bench "$V_kubeBench" "github.com/aquasecurity/kube-bench@$V_kubeBench" kube-bench
# Last, so that it finds most of Kubernetes' packages already compiled by the kubernetes item.
spawn kubernetes-e2e "$V_kubernetes" "k8s.io/kubernetes@$V_kubernetes" e2e.test agnhost nnp ginkgo
spawn apiserver-lb "$(source_version "$KDW_REPO_ROOT/tools/apiserver-lb")" kube-dumb-way/tools/apiserver-lb kdw-apiserver-lb
spawn docker-machine-driver-qemu "$(source_version "$KDW_REPO_ROOT/tools/docker-machine-driver-qemu")" \
  kube-dumb-way/tools/docker-machine-driver-qemu docker-machine-driver-qemu
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || true; done

# Install the resource plugins that were built into the plugin home, unless already there at that version.
for name in command tls kubernetes; do
  var="V_plugins_$name"; v="${!var}"
  plugin="$TC/plugins/pulumi-resource-$name"
  if [ ! -x "$BIN/pulumi" ] || [ ! -x "$plugin" ]; then continue; fi
  if cmp -s "$plugin" "$PULUMI_HOME/plugins/resource-$name-$v/pulumi-resource-$name"; then continue; fi
  if ! "$BIN/pulumi" plugin install resource "$name" "${v#v}" --file "$plugin" --reinstall \
       > "$LOGS/plugin-install-$name.log" 2>&1; then
    say "installing plugin $name $v FAILED (log: $LOGS/plugin-install-$name.log)"
    tail -n 5 "$LOGS/plugin-install-$name.log" | sed 's/^/    /'
    touch "$STATE/plugin-install-$name.failed"
  else
    say "plugin $name $v installed into $PULUMI_HOME"
  fi
done

# bin-previous/: the previous Kubernetes release beside the same other worker binaries as bin/ (hard links), so that
# kube-dumb-way:binarySource can point at it. These are WORKER_BINARIES (config/types.ts) but kubelet and kube-proxy.
PREVIOUS_SHARED="containerd containerd-shim-runc-v2 runc crictl kdw-apiserver-lb cni/bridge cni/host-local cni/loopback cni/portmap"
if [ -d "$PREVIOUS" ]; then
  for b in $PREVIOUS_SHARED; do
    if [ -f "$BIN/$b" ]; then mkdir -p "$(dirname "$PREVIOUS/$b")" && ln -f "$BIN/$b" "$PREVIOUS/$b"; fi
  done
fi

# bin/manifest.json: every artifact of every item built so far (names relative to bin/, as the program reads them);
# bin-previous/manifest.json: the same for what bin-previous/ holds (names relative to it). Each written aside and
# renamed into place: a cluster may be running `pulumi up` from this toolchain while a later run adds items (CI).
node -e '
  const fs = require("fs"), path = require("path");
  const [dir, bin, previous] = process.argv.slice(1);
  const items = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
  const write = (folder, artifacts) => {
    const file = path.join(folder, "manifest.json");
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ key: path.basename(path.dirname(dir)), artifacts }, null, 2) + "\n");
    fs.renameSync(`${file}.tmp`, file);
  };
  const all = items.flatMap((i) => i.artifacts);
  write(bin, all);
  if (fs.existsSync(previous)) {
    const shared = new Set(process.argv[4].split(" "));
    write(previous, all.flatMap((a) => a.name.startsWith("../bin-previous/") ? [{ ...a, name: a.name.slice(16) }]
      : shared.has(a.name) && fs.existsSync(path.join(previous, a.name)) ? [a] : []));
  }
' "$STATE" "$BIN" "$PREVIOUS" "$PREVIOUS_SHARED"

failed="$(find "$STATE" -name '*.failed' -printf '%f ' | sed 's/\.failed//g')"
if [ -n "$failed" ]; then
  say "done in $((SECONDS - total_start))s; FAILED: $failed"
  exit 1
fi
say "done in $((SECONDS - total_start))s; source scripts/env.sh to use it"

#!/usr/bin/env bash
# Smoke test of the offline toolchain (build it first: npm run toolchain).
#
#   bash test/toolchain/run.sh
#
# One line per check ("ok - …" / "not ok - …: why"), then "N passed, N failed"; exits 1 if any failed.
# The Pulumi part runs a throwaway TypeScript stack in a temporary folder with a file backend; nothing in it
# reaches the network (the Kubernetes provider points at 127.0.0.1:1 and is only previewed).
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$repo/scripts/env.sh"
here="$repo/test/toolchain"

passed=0 failed=0
pass() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "not ok - $1: $2"; failed=$((failed + 1)); }

# V NAME: a pinned version from versions.json (plugins.tls etc.).
V() { node -p "require('$KDW_VERSIONS_FILE').$1"; }

# expect NAME WANTED COMMAND...: the command succeeds and its output contains WANTED.
expect() {
  local name="$1" want="$2" out; shift 2
  if ! out="$("$@" 2>&1)"; then
    fail "$name" "'$*' failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
  elif [[ "$out" != *"$want"* ]]; then
    fail "$name" "'$*' printed '$(echo "$out" | head -n 2 | tr '\n' ' ')', wanted '$want'"
  else
    pass "$name"
  fi
}

k8s="$(V kubernetes)"
expect "pulumi version is $(V pulumi)" "$(V pulumi)" pulumi version
expect "pulumi-language-nodejs version is $(V languageNodejs)" "$(V languageNodejs)" pulumi-language-nodejs -version
plugins_json="$(pulumi plugin ls --json 2>/dev/null || echo '[]')"
for p in command tls kubernetes; do
  want="$(V "plugins.$p")"
  if node -e '
      const list = JSON.parse(process.argv[1]);
      process.exit(list.some((p) => p.name === process.argv[2] && p.kind === "resource" &&
        "v" + String(p.version).replace(/^v/, "") === process.argv[3]) ? 0 : 1);' \
      "$plugins_json" "$p" "$want"; then
    pass "plugin $p $want is installed"
  else
    fail "plugin $p $want is installed" "pulumi plugin ls --json has no resource $p $want"
  fi
done
# The builds from the upstream archives are the official ones, not stand-ins: `go version -m` names the upstream main
# module and the version set by its ldflags. (The kubernetes plugin comes from the module proxy by module version.)
official() { # NAME BINARY MODULE VERSION-VARIABLE VERSION
  local name="$1" bin="$2" module="$3" var="$4" version="$5" info
  if ! info="$(go version -m "$bin" 2>&1)"; then
    fail "$name is the official build" "go version -m $bin: $info"
  elif ! grep -qP "^\tmod\t\Q$module\E\t" <<< "$info"; then
    fail "$name is the official build" "its main module is not $module: $(grep -P '^\tmod\t' <<< "$info")"
  elif ! grep -qF -- "-X $var=$version" <<< "$info"; then
    fail "$name is the official build" "not built with -X $var=$version"
  else
    pass "$name is the official build ($module, $version)"
  fi
}
plugin_dir="$PULUMI_HOME/plugins"
official "plugin command" "$plugin_dir/resource-command-$(V plugins.command)/pulumi-resource-command" \
  github.com/pulumi/pulumi-command/provider github.com/pulumi/pulumi-command/provider/pkg/version.Version \
  "$(V plugins.command | sed 's/^v//')"
official "plugin tls" "$plugin_dir/resource-tls-$(V plugins.tls)/pulumi-resource-tls" \
  github.com/pulumi/pulumi-tls/provider/v5 github.com/pulumi/pulumi-tls/provider/v5/pkg/version.Version \
  "$(V plugins.tls | sed 's/^v//')"
official "pulumi-language-nodejs" "$KDW_TOOLCHAIN_HOME/bin/pulumi-language-nodejs" \
  github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 github.com/pulumi/pulumi/sdk/v3/go/common/version.Version \
  "$(V languageNodejs)"

for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  expect "$b --version is $k8s" "Kubernetes $k8s" "$b" --version
done
# The previous minor, in its own folder with bin/'s layout: what a cluster is brought up with before an upgrade.
previous="$(V kubernetesPrevious)"
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  expect "bin-previous/$b --version is $previous" "Kubernetes $previous" "$KDW_PREVIOUS_BINARY_DIR/$b" --version
done
expect "bin-previous/manifest.json lists every worker binary, kubelet at $previous" "ok" node -e '
  const m = require(process.argv[1] + "/manifest.json").artifacts, fs = require("fs");
  const need = ["kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "runc", "crictl", "kdw-apiserver-lb",
    "cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"];
  const missing = need.filter((n) => !m.some((a) => a.name === n) || !fs.existsSync(process.argv[1] + "/" + n));
  const kubelet = m.find((a) => a.name === "kubelet");
  console.log(missing.length === 0 && kubelet.version === process.argv[2] ? "ok" : "missing " + missing + ", kubelet " + kubelet?.version);
' "$KDW_PREVIOUS_BINARY_DIR" "$previous"
# The flags the program checks kube-dumb-way:apiServerExtraArgs against are those the two builds list.
expect "config/kube-apiserver-flags.json lists the flags kube-apiserver $k8s and $previous take" "as their builds do" \
  bash "$repo/scripts/apiserver-flags.sh" --check
expect "kubectl client is $k8s" "Client Version: $k8s" kubectl version --client
# The build date the toolchain stamps is the release's commit time as the module proxy records it, never empty.
k8s_time="$(go mod download -json "k8s.io/kubernetes@$k8s" | node -p 'JSON.parse(require("fs").readFileSync(JSON.parse(require("fs").readFileSync(0)).Info)).Time')"
expect "kubectl's build date is Kubernetes $k8s's commit time ($k8s_time)" "\"buildDate\": \"$k8s_time\"" kubectl version --client -o json
expect "etcd --version is $(V etcd)" "etcd Version: $(V etcd | sed 's/^v//')" etcd --version
expect "etcdctl version is $(V etcd)" "etcdctl version: $(V etcd | sed 's/^v//')" etcdctl version
expect "etcdutl version is $(V etcd)" "etcdutl version: $(V etcd | sed 's/^v//')" etcdutl version
expect "containerd --version is $(V containerd)" " $(V containerd) " containerd --version
expect "containerd-shim-runc-v2 -v is $(V containerd)" "$(V containerd)" containerd-shim-runc-v2 -v
expect "runc --version is $(V runc)" "runc version $(V runc | sed 's/^v//')" runc --version
dm="$(V dockerMachine)"
expect "docker-machine version is ${dm#*@}" "${dm#*@}" docker-machine version
expect "docker-machine has the generic driver" "generic-ip-address" docker-machine create --driver generic --help
expect "docker-machine has the virtualbox driver" "virtualbox-memory" docker-machine create --driver virtualbox --help
expect "docker-machine finds the project's qemu driver plugin and its flags" "qemu-boot2docker-url" docker-machine create --driver qemu --help
expect "crictl --version is $(V crictl)" "$(V crictl)" crictl --version
expect "coredns -version is $(V coredns)" "CoreDNS-$(V coredns | sed 's/^v//')" coredns -version
for c in bridge host-local loopback portmap; do
  expect "CNI $c is $(V cniPlugins)" "$(V cniPlugins)" "$KDW_TOOLCHAIN_HOME/bin/cni/$c"
done
expect "pause -v is built from Kubernetes $k8s" "$k8s" pause -v
expect "e2e.test --version is $k8s" "$k8s" e2e.test --version
expect "agnhost is the version the e2e suite of $k8s asks for" \
  "$(cat "$(go mod download -json "k8s.io/kubernetes@$k8s" | node -p 'JSON.parse(require("fs").readFileSync(0)).Dir')/test/images/agnhost/VERSION")" \
  agnhost --version
# nnp (the nonewprivs image's program): a static binary that prints the effective uid (this runs as root).
expect "nnp prints its effective uid" "Effective uid: $(id -u)" nnp
# shellcheck disable=SC2016 # expanded by that sh
expect "nnp is static (it runs in an image without a C library)" "not a dynamic executable" \
  sh -c 'ldd "$1" 2>&1 || true' ldd "$KDW_TOOLCHAIN_HOME/bin/nnp"
# The Ginkgo that Kubernetes' go.mod names (the library inside e2e.test); the CLI must be the same release.
ginkgo_release="$(go mod download -json "k8s.io/kubernetes@$k8s" | node -p 'JSON.parse(require("fs").readFileSync(0)).GoMod' |
  xargs go mod edit -json | node -p 'JSON.parse(require("fs").readFileSync(0)).Require.find(r => r.Path === "github.com/onsi/ginkgo/v2").Version.slice(1)')" ||
  ginkgo_release=""
if [ -z "$ginkgo_release" ]; then
  fail "ginkgo is the version e2e.test of $k8s is built with" "Kubernetes $k8s's go.mod names no github.com/onsi/ginkgo/v2"
else
  expect "ginkgo is the version e2e.test of $k8s is built with ($ginkgo_release)" "Ginkgo Version $ginkgo_release" ginkgo version
fi
# The conformance suite's own images built from Go modules: the versions versions.json names, which are the tags its
# e2e.test asks for (etcd:3.7.0-0 is etcd v3.7.0; sample-apiserver:1.29.2 is k8s.io/sample-apiserver v0.29.2).
sample_etcd="$(V conformanceImages.etcd)" sample_apiserver="$(V conformanceImages.sampleApiserver)"
expect "conformance/etcd --version is $sample_etcd" "etcd Version: ${sample_etcd#v}" "$KDW_TOOLCHAIN_HOME/bin/conformance/etcd" --version
expect "conformance/kube-sample-apiserver is k8s.io/sample-apiserver $sample_apiserver" \
  "$(printf 'mod\tk8s.io/sample-apiserver\t%s' "$sample_apiserver")" go version -m "$KDW_TOOLCHAIN_HOME/bin/conformance/kube-sample-apiserver"
expect "e2e.test asks for etcd:${sample_etcd#v}-0" "/etcd:${sample_etcd#v}-0" e2e.test --list-images
expect "e2e.test asks for sample-apiserver:1.${sample_apiserver#v0.}" "/sample-apiserver:1.${sample_apiserver#v0.}" e2e.test --list-images
# busybox of the conformance suite's busybox image: the pinned release, static, and with the upstream ash that passes
# variables whose names are not shell identifiers (a Secret's key data-1) to its children, which Debian's reverts.
conformance_busybox="$KDW_TOOLCHAIN_HOME/bin/conformance/busybox"
expect "conformance/busybox is busybox $(V conformanceBusybox.version)" "BusyBox v$(V conformanceBusybox.version) " "$conformance_busybox"
# shellcheck disable=SC2016 # expanded by that sh
expect "conformance/busybox is static (it runs in an image without a C library)" "not a dynamic executable" \
  sh -c 'ldd "$1" 2>&1 || true' ldd "$conformance_busybox"
expect "conformance/busybox's sh passes the variable data-1 to its children" "data-1=from-a-secret" \
  env -i data-1=from-a-secret "$conformance_busybox" sh -c "$conformance_busybox env"
expect "kube-bench version is $(V kubeBench)" "$(V kubeBench | sed 's/^v//')" kube-bench version
expect "kube-vip version is $(V kubeVip)" "Version:  $(V kubeVip)" kube-vip version
expect "kube-router --version is $(V kubeRouter)" "version $(V kubeRouter), built on 20" kube-router --version
expect "metrics-server --version is $(V metricsServer)" "$(V metricsServer)" metrics-server --version
expect "versitygw --version is $(V versitygw)" "Version  : $(V versitygw)" versitygw --version

if node -e '
    const fs = require("fs"), crypto = require("crypto"), path = require("path");
    const home = process.argv[1], m = JSON.parse(fs.readFileSync(path.join(home, "bin", "manifest.json"), "utf8"));
    const bad = m.artifacts.filter((a) => !a.sha256 || !a.version || !a.module ||
      crypto.createHash("sha256").update(fs.readFileSync(path.join(home, "bin", a.name))).digest("hex") !== a.sha256);
    if (bad.length || m.artifacts.length < 20) { console.log(bad.map((a) => a.name).join(" ") || m.artifacts.length); process.exit(1); }
  ' "$KDW_TOOLCHAIN_HOME" > /tmp/kdw-manifest-check.$$ 2>&1; then
  pass "manifest.json records every artifact with its sha256"
else
  fail "manifest.json records every artifact with its sha256" "$(cat /tmp/kdw-manifest-check.$$)"
fi
rm -f /tmp/kdw-manifest-check.$$

# ---- Pulumi: a throwaway stack, file backend in the temp folder, no network.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/stack/Pulumi.yaml" "$here/stack/tsconfig.json" "$here/stack/package.json" "$work/"
# Kept as index.ts.in so that the project's own tsc (which compiles test/**/*.ts) leaves it alone.
cp "$here/stack/index.ts.in" "$work/index.ts"
ln -s "$repo/node_modules" "$work/node_modules"
mkdir -p "$work/state"
export PULUMI_BACKEND_URL="file://$work/state"
PULUMI_CONFIG_PASSPHRASE=$(head -c 24 /dev/urandom | base64) # a throwaway stack: a passphrase nobody keeps
export PULUMI_CONFIG_PASSPHRASE
run_pulumi() { # NAME PULUMI-ARGS...: run pulumi in the stack folder, log to the temp folder
  local name="$1"; shift
  if (cd "$work" && pulumi "$@" --non-interactive) > "$work/$name.log" 2>&1; then
    pass "pulumi $name"
  else
    fail "pulumi $name" "$(grep -iE 'error|failed' "$work/$name.log" | head -n 3 | tr '\n' ' ')"
  fi
}
run_pulumi "stack init" stack init smoke
(cd "$work" && pulumi config set parts kubernetes --non-interactive) > /dev/null 2>&1
run_pulumi "preview (kubernetes provider and ConfigMap, unreachable cluster)" preview
(cd "$work" && pulumi config set parts command,tls --non-interactive) > /dev/null 2>&1
run_pulumi "preview (local.Command, tls.PrivateKey)" preview
run_pulumi "up (local.Command, tls.PrivateKey)" up --yes --skip-preview
if (cd "$work" && pulumi stack output echoed --non-interactive 2>/dev/null) | grep -q "hello from the toolchain"; then
  pass "the Command's stdout is a stack output"
else
  fail "the Command's stdout is a stack output" "stack output echoed is not 'hello from the toolchain'"
fi
run_pulumi "destroy" destroy --yes --skip-preview

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# The whole cluster on this machine, from nothing: toolchain, local test hosts, images, an object store for etcd
# snapshots, `pulumi up` of the `local` stack over the generic driver, then `kubectl get nodes -o wide`. `down` destroys the stack and removes the hosts.
#
#   npm run up:local        # or: bash scripts/local.sh up
#   npm run down:local
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"
stack=local

case "${1:-}" in
up)
    [ -d node_modules ] || npm ci --no-audit --no-fund
    bash scripts/toolchain.sh
    # shellcheck source=scripts/env.sh
    source scripts/env.sh
    # shellcheck source=scripts/test-stacks.sh
    source scripts/test-stacks.sh
    bash scripts/hosts.sh up 6
    bash scripts/images.sh
    bash scripts/hosts.sh object-store
    npx tsc -p .
    export MACHINE_STORAGE_PATH="$root/.cache/e2e/machines/$stack"
    pulumi stack select --create "$stack" >/dev/null
    node bin/test/e2e/stackConfig.js "$stack" 3
    pulumi up --yes --skip-preview --stack "$stack"
    pulumi stack output kubeconfig --show-secrets --stack "$stack" > "$root/.cache/kubeconfig"
    chmod 0600 "$root/.cache/kubeconfig"
    echo "kubeconfig: $root/.cache/kubeconfig"
    kubectl --kubeconfig "$root/.cache/kubeconfig" get nodes -o wide
    ;;
down)
    # shellcheck source=scripts/env.sh
    source scripts/env.sh
    # shellcheck source=scripts/test-stacks.sh
    source scripts/test-stacks.sh
    export MACHINE_STORAGE_PATH="$root/.cache/e2e/machines/$stack"
    if pulumi stack select "$stack" >/dev/null 2>&1; then
        pulumi destroy --yes --skip-preview --stack "$stack"
        pulumi stack rm --yes "$stack"
    fi
    bash scripts/hosts.sh down
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac

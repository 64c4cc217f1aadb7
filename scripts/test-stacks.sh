# shellcheck shell=bash
# Sourced after scripts/env.sh by the tooling that makes test stacks on the local test hosts (the e2e suites, the
# benchmark, the `local` stack of `npm run up:local`): the passphrase of those stacks' secrets. Yours when you set
# PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE; otherwise a random one made once for this work tree, in
# its .cache (not in the repository), for its test stacks only: scripts/env.sh, which your own stacks use, sets none.
if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  kdw_test_passphrase="$KDW_REPO_ROOT/.cache/test-passphrase"
  if [ ! -s "$kdw_test_passphrase" ]; then
    mkdir -p "$(dirname "$kdw_test_passphrase")"
    (umask 077 && head -c 32 /dev/urandom | base64 > "$kdw_test_passphrase.new" && mv "$kdw_test_passphrase.new" "$kdw_test_passphrase")
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$kdw_test_passphrase"
  unset kdw_test_passphrase
fi

#!/usr/bin/env bash
# End-to-end runs against the local test hosts (needs `npm run toolchain` and the hosts: 7, hosts 2 and 5 of the
# boot2docker kind, `npm run hosts:up -- 7 --boot2docker 2,5`): builds and pushes the images, compiles, then runs
# suites or single scenarios by name through node:test (test/e2e/run.ts), one scenario file after another:
#
#   scripts/e2e.sh                     # the e2e suite (its scenarios: bad-config, up, cluster, ... destroy)
#   scripts/e2e.sh standards           # another suite: standards, upgrade or interrupt
#   scripts/e2e.sh routes              # one scenario (brings the e2e cluster up first if there is none)
#
# Each check prints its PASS or FAIL line as it ends; the run ends with "N passed, N failed", and each scenario's
# checks and timings are in .cache/e2e/<scenario>.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/test-stacks.sh
source scripts/test-stacks.sh
images=()
for name in "$@"; do
    case "$name" in
    # The conformance tests' own images.
    standards | standards-but-netpol | standards+restore+resize | conformance | whole-conformance | netpol | netpol-conformance)
        images+=(conformance) ;;
    # The control plane at the previous minor, which the upgrade starts from.
    upgrade) images+=(previous) ;;
    esac
done
# Suites may run side by side (each on its own test hosts): one at a time builds the images and compiles.
mkdir -p .cache/e2e
(
    flock 9
    bash scripts/images.sh "${images[@]}"
    npx tsc -p .
) 9>.cache/e2e/build.lock
# This set's object store, where the test stacks copy their etcd snapshots (it needs the toolchain's versitygw).
bash scripts/hosts.sh object-store
node bin/test/e2e/run.js "$@"

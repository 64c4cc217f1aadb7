#!/usr/bin/env bash
# End-to-end run against the local test hosts (needs `npm run toolchain` and 7 hosts, hosts 2 and 5 of the boot2docker
# kind: `npm run hosts:up -- 7 --boot2docker 2,5`): builds and pushes the images, then runs test/e2e/e2e.ts, which
# writes .cache/e2e/report.json; or, given a suite name, test/e2e/<suite>.ts on 6 of those hosts, which writes
# .cache/e2e/<suite>.json: `interrupt` (killed runs), `upgrade` (a rolling upgrade from the previous Kubernetes minor
# under load) or `standards` (sig-network conformance and the CIS benchmark, with the conformance tests' images too).
set -euo pipefail
suite="${1:-e2e}"
case "$suite" in
e2e | interrupt | upgrade) images=() ;;
standards) images=(conformance) ;;
*) echo "usage: e2e.sh [interrupt|upgrade|standards]" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# Suites may run side by side (each on its own test hosts): one at a time builds the images and compiles.
mkdir -p .cache/e2e
(
    flock 9
    bash scripts/images.sh "${images[@]}"
    npx tsc -p .
) 9>.cache/e2e/build.lock
node "bin/test/e2e/$suite.js"

#!/usr/bin/env bash
# `npm run bench`: the cost of the cluster as it grows (test/bench/bench.ts), on the local test hosts. Needs the
# toolchain and 3 + (largest size + 1) hosts: `npm run hosts:up -- 16` for the default sizes 3, 6 and 12 workers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/test-stacks.sh
source scripts/test-stacks.sh
bash scripts/images.sh
npx tsc -p .
node bin/test/bench/bench.js

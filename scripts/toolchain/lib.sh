# shellcheck shell=bash
# Where the offline toolchain lives. Sourced by scripts/toolchain.sh (which builds it) and by
# scripts/env.sh (which puts it on PATH), so both always agree on the same folder.
#
#   ${KDW_TOOLCHAIN_DIR:-$HOME/.cache/kube-dumb-way/toolchain}/<key>
#
# <key> is a short sha256 of versions.json (without its comment) plus KDW_TOOLCHAIN_RECIPE: a change of
# any pinned version, or of the recipe, gives a new folder; an old folder is left alone.

# Bump when the way things are built changes (flags, wrapper modules) so a fresh folder is used.
KDW_TOOLCHAIN_RECIPE=2

KDW_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KDW_VERSIONS_FILE="$KDW_REPO_ROOT/versions.json"

# shellcheck disable=SC2016 # a node script in single quotes
kdw_toolchain_key() {
  node -e '
    const fs = require("fs"), crypto = require("crypto");
    const v = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    delete v["$comment"];
    const canon = (x) => Array.isArray(x) ? x.map(canon)
      : x && typeof x === "object" ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, canon(x[k])])) : x;
    const text = JSON.stringify({ recipe: process.argv[2], versions: canon(v) });
    process.stdout.write(crypto.createHash("sha256").update(text).digest("hex").slice(0, 12));
  ' "$KDW_VERSIONS_FILE" "$KDW_TOOLCHAIN_RECIPE"
}

# Where built items are kept across toolchain folders (scripts/toolchain.sh): items/<name>/<key>/.
kdw_toolchain_store() {
  printf '%s/items\n' "${KDW_TOOLCHAIN_DIR:-$HOME/.cache/kube-dumb-way/toolchain}"
}

kdw_toolchain_home() {
  printf '%s/%s\n' "${KDW_TOOLCHAIN_DIR:-$HOME/.cache/kube-dumb-way/toolchain}" "$(kdw_toolchain_key)"
}

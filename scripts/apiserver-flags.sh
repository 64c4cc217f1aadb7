#!/usr/bin/env bash
# The flags kube-apiserver takes, at the two releases versions.json pins (kubernetes, kubernetesPrevious), as their own
# builds in the toolchain list them (`kube-apiserver --help`): config/kube-apiserver-flags.json, which the program
# checks kube-dumb-way:apiServerExtraArgs against before anything is made (a misspelt flag would otherwise stop the
# first controller's apiserver mid-roll).
#
#   bash scripts/apiserver-flags.sh          # writes the file (after npm run toolchain, when versions.json changes)
#   bash scripts/apiserver-flags.sh --check  # exits 1, naming the difference, when the file is not what the builds list
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
file=config/kube-apiserver-flags.json

# flags BINARY: its long flag names, one a line, sorted; not --help and --version, with which it prints and exits
# instead of serving.
flags() { "$1" --help 2>&1 | sed -nE 's/^ +(-[a-z], )?--([a-z0-9-]+).*/\2/p' | grep -vxE 'help|version' | sort -u; }

listed=$(mktemp)
trap 'rm -f "$listed"' EXIT
mode=${1:-write}
while read -r key folder; do
    version=$(node -p "require('./versions.json').$key")
    binary="$folder/kube-apiserver"
    [ -x "$binary" ] || { echo "$binary is missing: npm run toolchain builds it" >&2; exit 1; }
    built=$("$binary" --version)
    [ "$built" = "Kubernetes $version" ] || { echo "$binary is $built, not $version: npm run toolchain" >&2; exit 1; }
    printf '%s %s\n' "$version" "$(flags "$binary" | tr '\n' ' ')" >> "$listed"
done <<PINS
kubernetes $KDW_TOOLCHAIN_HOME/bin
kubernetesPrevious $KDW_PREVIOUS_BINARY_DIR
PINS
json=$(node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
const flags = Object.fromEntries(lines.map(l => { const [v, ...f] = l.trim().split(/\s+/); return [v, f]; }));
console.log(JSON.stringify(flags, null, 2));' "$listed")
if [ "$mode" = --check ]; then
    if ! diff <(echo "$json") "$file" > /dev/null; then
        echo "$file is not what the toolchain's kube-apiserver builds list (bash scripts/apiserver-flags.sh writes it):" >&2
        diff <(echo "$json") "$file" | head -n 20 >&2
        exit 1
    fi
    echo "$file lists the flags of kube-apiserver $(cut -d' ' -f1 "$listed" | tr '\n' ' ')as their builds do"
else
    echo "$json" > "$file"
    echo "wrote $file"
fi

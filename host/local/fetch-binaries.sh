# Downloads each worker binary once into KDW_DIR and checks it against its pinned sha256; a file already there with
# the right digest is kept. Runs on the machine that runs Pulumi. Downloads in progress stay out of KDW_DIR (in
# KDW_DIR.partial): the folder is copied to workers as it is, and holds only checked binaries.
# Environment: KDW_BASE_URL KDW_DIR KDW_PINS ("name=sha256 ...")
set -eu
mkdir -p "$KDW_DIR"
for pin in $KDW_PINS; do
    name=${pin%%=*}
    want=${pin#*=}
    file="$KDW_DIR/$name"
    mkdir -p "$(dirname "$file")"
    if [ -f "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$want" ]; then
        continue
    fi
    partial="$KDW_DIR.partial/$name"
    mkdir -p "$(dirname "$partial")"
    curl --fail --silent --show-error --location --retry 3 --output "$partial" "$KDW_BASE_URL/$name"
    got=$(sha256sum "$partial" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
        rm -f "$partial"
        echo "$KDW_BASE_URL/$name has sha256 $got, but kube-dumb-way:binaryChecksums pins $want" >&2
        exit 1
    fi
    mv "$partial" "$file"
    echo "fetched $name" >&2
done
echo "$KDW_DIR"

# Downloads each worker binary once into KDW_DIR and checks it against its pinned sha256; a file already there with
# the right digest is kept. Runs on the machine that runs Pulumi.
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
    curl --fail --silent --show-error --location --retry 3 --output "$file.part" "$KDW_BASE_URL/$name"
    got=$(sha256sum "$file.part" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
        rm -f "$file.part"
        echo "$KDW_BASE_URL/$name has sha256 $got, but kube-dumb-way:binaryChecksums pins $want" >&2
        exit 1
    fi
    mv "$file.part" "$file"
    echo "fetched $name" >&2
done
echo "$KDW_DIR"

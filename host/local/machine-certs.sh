# up: docker-machine makes its CA and client certificate on first use. Machines created in parallel into an empty store
# each make their own, and all but one then fail with "tls: bad certificate"; so they are made once, first, here.
# down (after every machine's own delete): removes this cluster's machines that are still in the store, those whose
# create was interrupted and so never reached Pulumi's state.
# Environment: KDW_CLUSTER_LABEL (kdw.cluster=<name>), MACHINE_STORAGE_PATH (optional)
set -eu
store="${MACHINE_STORAGE_PATH:-$HOME/.docker/machine}"
case "$1" in
up)
    # The throwaway machine of a run killed between its create and its rm (named after its shell's pid).
    for stale in "$store"/machines/kdw-certs-*; do
        if [ -d "$stale" ] && ! kill -0 "${stale##*-}" 2>/dev/null; then
            docker-machine rm --force -y "${stale##*/}" >/dev/null 2>&1 || rm -rf "$stale"
        fi
    done
    if [ -f "$store/certs/ca.pem" ] && [ -f "$store/certs/cert.pem" ]; then
        exit 0
    fi
    name="kdw-certs-$$"
    docker-machine create --driver none --url tcp://127.0.0.1:2376 "$name" >/dev/null
    docker-machine rm --force -y "$name" >/dev/null
    echo "docker-machine certificates made in $store/certs"
    ;;
down)
    for machine in "$store"/machines/*; do
        if [ ! -f "$machine/config.json" ] || ! grep -qF "\"$KDW_CLUSTER_LABEL\"" "$machine/config.json"; then
            continue
        fi
        echo "removing ${machine##*/}, a machine of this cluster that Pulumi did not know of" >&2
        docker-machine rm --force -y "${machine##*/}" >&2
    done
    ;;
esac

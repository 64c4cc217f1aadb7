# Rewrites every Secret through the API (with the admin kubeconfig on stdin), so that each is stored again with the key
# that now encrypts (a key rotation's step between its `write` and `final` phases; Kubernetes' documented way): the
# apiserver stores again a value it read with any other key. A Secret changed between the read and the write is a
# conflict, and the whole rewrite runs again (it is idempotent); up to 5 times.
# Environment: KDW_ENCRYPTION (the provider and key generation it rewrites for)
#              PULUMI_COMMAND_STDOUT (the command provider: this step's output last time)
set -eu
done_line="every Secret rewritten with $KDW_ENCRYPTION"
if [ "${PULUMI_COMMAND_STDOUT:-}" = "$done_line" ]; then
    # Done for this key: only the credentials given here changed (a renewal). Nothing to do.
    echo "$done_line"
    exit 0
fi
admin_kubeconfig "rewrites every Secret with the key that now encrypts them"
attempt=1
# shellcheck disable=SC2154 # $kubeconfig: admin_kubeconfig's file (lib-admin-kubeconfig.sh)
while :; do
    count=$(kubectl --kubeconfig "$kubeconfig" get secrets --all-namespaces --no-headers 2>/dev/null | wc -l)
    if out=$(kubectl --kubeconfig "$kubeconfig" get secrets --all-namespaces -o json |
        kubectl --kubeconfig "$kubeconfig" replace -f - 2>&1 >/dev/null); then
        echo "rewrote $count Secrets (attempt $attempt)" >&2
        echo "$done_line"
        exit 0
    fi
    if [ "$attempt" -ge 5 ]; then
        echo "could not rewrite every Secret with $KDW_ENCRYPTION after $attempt attempts; the last errors:" >&2
        echo "$out" | tail -n 20 >&2
        echo "The older key still reads on every apiserver (its final phase waits for this): run pulumi up again." >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
done

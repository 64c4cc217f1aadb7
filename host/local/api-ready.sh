# Runs on the machine running Pulumi, before the program's Kubernetes provider first talks to the cluster: waits until
# the API serves its OpenAPI document through the clients' endpoint, as the provider's first request asks for it.
# An apiserver builds that document on the first request, which on a loaded controller took longer than the
# provider's one try (32 s, then `pulumi up` failed: "unable to load schema information from the API server"); here
# it is asked for again until it comes, and the provider then finds it built. The admin kubeconfig comes on stdin
# (lib-admin-kubeconfig.sh).
# Environment: KDW_TIMEOUT (seconds)
set -eu
admin_kubeconfig "checks the API before the program's Kubernetes resources"
start=$(date +%s)
# shellcheck disable=SC2154 # $kubeconfig: admin_kubeconfig's file (lib-admin-kubeconfig.sh)
until kubectl --kubeconfig "$kubeconfig" --request-timeout=60s get --raw /openapi/v2 > /dev/null; do
    if [ $(($(date +%s) - start)) -ge "$KDW_TIMEOUT" ]; then
        echo "the API does not serve /openapi/v2 through $(kubectl --kubeconfig "$kubeconfig" config view -o \
            jsonpath='{.clusters[0].cluster.server}') after ${KDW_TIMEOUT}s (kubectl's reason above); see the" \
            "apiservers' logs (docs/troubleshooting.md) and run pulumi up again." >&2
        exit 1
    fi
    sleep 2
done
echo "the API serves its OpenAPI document after $(($(date +%s) - start))s"

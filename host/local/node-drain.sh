# Runs on the machine running Pulumi, around a worker's roll. `drain` cordons the worker and evicts its pods (each
# eviction respects PodDisruptionBudgets, DaemonSet pods stay) before the worker changes; `uncordon` lets pods back once
# the Node is Ready at the kubelet version it should run. The admin kubeconfig comes on stdin (lib-admin-kubeconfig.sh).
# Environment: KDW_NODE KDW_TIMEOUT (seconds) KDW_KUBELET_VERSION KDW_ROLL (a digest of what the worker's roll sends)
#              PULUMI_COMMAND_STDOUT (the command provider: this step's output last time)
set -eu
done_line="rolled $KDW_ROLL"
if [ "${PULUMI_COMMAND_STDOUT:-}" = "$done_line" ]; then
    # The worker's roll has not changed, only the credentials given here: nothing to do.
    echo "$done_line"
    exit 0
fi
admin_kubeconfig "drains workers before they change"
# shellcheck disable=SC2154 # $kubeconfig: admin_kubeconfig's file (lib-admin-kubeconfig.sh)
k() { kubectl --kubeconfig "$kubeconfig" --request-timeout=20s "$@"; }

case "$1" in
drain)
    # kubectl drain gives up at the first API request that fails (an apiserver that restarts, the VIP that moves, a
    # request that times out on a loaded controller), while waiting on a PodDisruptionBudget is its own loop up to
    # --timeout. Draining is safe to repeat, so a drain that fails early is tried again with the time that is left.
    start=$(date +%s)
    while :; do
        # What is left of the timeout, never 0: kubectl drain's --timeout=0s waits for ever.
        left=$((KDW_TIMEOUT - ($(date +%s) - start)))
        if [ "$left" -le 0 ]; then
            echo "$KDW_NODE: draining did not finish within ${KDW_TIMEOUT}s (kube-dumb-way:drainTimeoutSeconds), for" \
                "kubectl's reason above: a PodDisruptionBudget forbids evicting a pod (kubectl get pdb -A), a pod does not" \
                "stop, a pod has no controller to make it again elsewhere, or the API did not answer. The worker stays" \
                "cordoned and unchanged; free it, or raise the timeout, and run pulumi up again." >&2
            exit 1
        fi
        if k drain "$KDW_NODE" --ignore-daemonsets --delete-emptydir-data --timeout="${left}s" >&2; then
            break
        fi
        echo "$KDW_NODE: kubectl drain failed (above) with ${left}s of the timeout left; trying again." >&2
        sleep 2
    done
    ;;
uncordon)
    start=$(date +%s)
    ready='{.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.kubeletVersion}'
    # Uncordoning is tried again like the checks before it: one API request lost must not fail the roll.
    until [ "$(k get node "$KDW_NODE" -o jsonpath="$ready" 2>/dev/null || true)" = "True $KDW_KUBELET_VERSION" ] &&
        k uncordon "$KDW_NODE" >&2; do
        if [ $(($(date +%s) - start)) -ge "$KDW_TIMEOUT" ]; then
            echo "$KDW_NODE: the Node is not Ready with kubelet $KDW_KUBELET_VERSION, or not uncordoned, after" \
                "${KDW_TIMEOUT}s (now: $(k get node "$KDW_NODE" -o jsonpath="$ready" 2>&1 || true)); it stays cordoned." >&2
            exit 1
        fi
        sleep 2
    done
    ;;
esac
echo "$done_line"

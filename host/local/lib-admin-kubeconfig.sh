# For scripts that run on the machine running Pulumi with the admin kubeconfig on stdin (node-drain.sh, api-ready.sh).
# admin_kubeconfig PURPOSE: stops, naming PURPOSE and the way out, when kubectl is not on PATH; otherwise puts the
# kubeconfig in a private temporary file, $kubeconfig, removed at exit: the key never goes on a command line.
admin_kubeconfig() {
    if ! command -v kubectl >/dev/null 2>&1; then
        echo "kubectl is not on PATH; it $1 (npm run toolchain and source scripts/env.sh put the toolchain's kubectl" \
            "there)." >&2
        exit 1
    fi
    kubeconfig=$(mktemp)
    trap 'rm -f "$kubeconfig"' EXIT
    cat > "$kubeconfig"
}

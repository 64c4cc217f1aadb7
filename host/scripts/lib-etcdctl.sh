# etcdctl from the etcd image with a client certificate of its own (of the etcd CA, in <folder>/pki: ca.pem, client.pem,
# client-key.pem), for the steps that act on etcd's members from outside any one member (etcd-membership.sh,
# etcd-restore.sh). Its variables are prefixed kdw_ectl_: sh has no local variables.
# Environment: KDW_IMAGE
kdw_etcdctl_at() { # folder, endpoints (comma separated), etcdctl arguments
    kdw_ectl_dir=$1
    kdw_ectl_endpoints=$2
    shift 2
    docker run --rm --network host --volume "$kdw_ectl_dir/pki:/pki:ro" "$KDW_IMAGE" etcdctl --endpoints="$kdw_ectl_endpoints" \
        --cacert=/pki/ca.pem --cert=/pki/client.pem --key=/pki/client-key.pem --dial-timeout=2s --command-timeout=5s "$@"
}

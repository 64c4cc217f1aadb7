# docker-machine makes its CA and client certificate on first use. Machines created in parallel into an empty store
# each make their own, and all but one then fail with "tls: bad certificate"; so they are made once, first, here.
set -eu
store="${MACHINE_STORAGE_PATH:-$HOME/.docker/machine}"
if [ -f "$store/certs/ca.pem" ] && [ -f "$store/certs/cert.pem" ]; then
    exit 0
fi
name="kdw-certs-$$"
docker-machine create --driver none --url tcp://127.0.0.1:2376 "$name" >/dev/null
docker-machine rm --force -y "$name" >/dev/null
echo "docker-machine certificates made in $store/certs"

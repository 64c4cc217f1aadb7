# Copies the folder of worker binaries (KDW_FOLDER, on the machine running Pulumi) into KDW_STAGE on a worker: one
# tar stream over one SSH session. The program runs it again only when the set of binaries, the machine or its address
# changes; a copy cut short is made again whole by the next run (Pulumi did not record it).
# Environment: KDW_FOLDER KDW_STAGE KDW_HOST KDW_PORT KDW_USER KDW_KEY
set -eu
tar -c -C "$KDW_FOLDER" . |
    ssh -i "$KDW_KEY" -p "$KDW_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ConnectTimeout=10 "$KDW_USER@$KDW_HOST" "mkdir -p '$KDW_STAGE' && tar -x -C '$KDW_STAGE'"

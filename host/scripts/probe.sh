# Waits for SSH (the connection retries until the host answers) and reports what kind of host this is:
# `profile=<systemd|boot2docker> cgroup=<v1|v2>`. KDW_PROFILE_SETTING (from config) wins unless it is auto; a host
# that is neither kind fails here, with a message, before anything is installed on it.
set -eu
profile="${KDW_PROFILE_SETTING:-auto}"
if [ "$profile" = auto ]; then
    if [ -d /run/systemd/system ]; then
        profile=systemd
    elif grep -qi boot2docker /etc/os-release 2>/dev/null; then
        profile=boot2docker
    else
        echo "$(hostname): neither systemd nor boot2docker; set kube-dumb-way:hostProfile to say how it runs services" >&2
        exit 1
    fi
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cgroup=v2; else cgroup=v1; fi
echo "profile=$profile cgroup=$cgroup"

# Waits for SSH (the connection retries until the host answers) and reports what kind of host this is:
# `profile=<systemd|boot2docker|unknown> cgroup=<v1|v2>`.
set -eu
if [ -d /run/systemd/system ]; then
    profile=systemd
elif grep -qi boot2docker /etc/os-release 2>/dev/null; then
    profile=boot2docker
else
    profile=unknown
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cgroup=v2; else cgroup=v1; fi
echo "profile=$profile cgroup=$cgroup"

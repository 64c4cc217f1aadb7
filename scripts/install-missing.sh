# shellcheck shell=bash
# install_missing WHO PACKAGE...: installs the Debian packages named (none: nothing to do) with apt-get, without their
# recommends, when run as root on a machine that has apt-get; otherwise says what WHO needs and how to install it, and
# fails. Sourced by scripts/test-deps.sh, scripts/vm-deps.sh and scripts/images.sh.
install_missing() {
    local who=$1
    shift
    [ "$#" -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "$who needs $*: install them with your package manager (Debian: apt-get install -y --no-install-recommends $*) and run it again" >&2
        return 1
    fi
    echo "[$who] installing $* (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

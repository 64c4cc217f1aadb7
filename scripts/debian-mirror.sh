# shellcheck shell=bash
# The Debian mirror this machine's apt uses (KDW_DEBIAN_MIRROR overrides it), for debootstrap: sourced by
# scripts/hosts.sh (the test hosts' rootfs) and scripts/images.sh (the conformance tests' images).
debian_mirror() {
	if [ -n "${KDW_DEBIAN_MIRROR:-}" ]; then
		echo "$KDW_DEBIAN_MIRROR"
		return
	fi
	local uri
	uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
	echo "${uri:-http://deb.debian.org/debian}"
}

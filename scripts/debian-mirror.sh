# shellcheck shell=bash
# The Debian mirror this machine's apt uses (KDW_DEBIAN_MIRROR overrides it): sourced by scripts/hosts.sh (the test
# hosts' rootfs), scripts/vm-iso.sh (the VM ISO), scripts/images.sh (the conformance tests' images) and
# scripts/toolchain.sh (busybox's release archive, which the mirror keeps as its package's original source).
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

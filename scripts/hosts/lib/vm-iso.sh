# shellcheck shell=bash
# The boot2docker ISO for virtual machines: Debian's kernel with the modules a Docker host in a VM needs, and as its
# initramfs the whole root filesystem of the boot2docker kind (fill_b2d_root, b2d-image.sh) plus the VM's early boot
# (scripts/hosts/boot2docker-vm). Made from Debian packages and the Debian base, without Docker; keyed like the images.

readonly VM_ISO_VERSION=1 # bump when build_vm_iso changes
readonly VM_ISO_DIR="${KDW_CACHE_DIR:-$HOME/.cache/kube-dumb-way}/vm-iso"
readonly VM_FILES_DIR="$FILES_DIR/boot2docker-vm"

# The kernel's modules the ISO carries, under lib/modules/<version>/kernel (about 30 of its 400 MB): the networking a
# container host uses (bridges, VLANs, netfilter, IPVS, traffic control, IPsec, SCTP, tunnels and the virtual
# devices of container networks), the libraries and ciphers they use, the file systems of the data disk and of
# Docker, and the drivers of a virtual machine (virtio disk, network and RNG, the ACPI power button and the input
# events acpid reads). Left out of those: the network PHYs' self-tests, which would need the PHY drivers.
readonly VM_MODULES=(net/802 net/8021q net/bridge net/core net/dns_resolver net/ife net/ipv4 net/ipv6 net/key net/llc
	net/mpls net/netfilter net/netlink net/packet net/psample net/sched net/sctp net/tls net/unix net/xfrm
	lib crypto arch/x86/crypto fs/ext4 fs/jbd2 fs/mbcache.ko fs/overlayfs
	drivers/virtio drivers/block/virtio_blk.ko drivers/net/virtio_net.ko drivers/net/net_failover.ko
	drivers/net/veth.ko drivers/net/tun.ko drivers/net/tap.ko drivers/net/geneve.ko drivers/net/vxlan
	drivers/net/dummy.ko drivers/net/macvlan.ko drivers/net/ipvlan
	drivers/char/hw_random drivers/acpi/button.ko drivers/input/evdev.ko)
readonly VM_MODULES_LEFT_OUT=(net/core/selftests.ko)

need_iso_packages() { # installs the Debian packages the build runs, when missing
	local missing=()
	command -v xorriso >/dev/null || missing+=(xorriso)
	[ -f /usr/lib/ISOLINUX/isolinux.bin ] || missing+=(isolinux)
	[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || missing+=(syslinux-common)
	command -v cpio >/dev/null || missing+=(cpio)
	command -v zstd >/dev/null || missing+=(zstd)
	command -v depmod >/dev/null || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || missing+=(kmod)
	[ -f "$(base_tarfile)" ] || command -v debootstrap >/dev/null || missing+=(debootstrap)
	[ ${#missing[@]} -gt 0 ] || return 0
	log "installing ${missing[*]} (apt-get)"
	mkdir -p "$VM_ISO_DIR"
	{
		apt-get update -q -o DPkg::Lock::Timeout=600 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
				-o DPkg::Lock::Timeout=600 "${missing[@]}"
	} >"$VM_ISO_DIR/apt.log" 2>&1 || die "apt-get failed, see $VM_ISO_DIR/apt.log"
}

KERNEL_DEB=""
HEADERS_DEB=""
fetch_kernel_debs() { # sets KERNEL_DEB and HEADERS_DEB: the .debs of the kernel linux-image-amd64 stands for today
	# and of its headers (the symbols the kernel exports, for depmod's check), downloaded the first time
	local dir="$VM_ISO_DIR/debs" pkg
	mkdir -p "$dir"
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt-get update -q >/dev/null 2>&1 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || die "apt knows no linux-image-amd64 (is a Debian archive in apt's sources?)"
	KERNEL_DEB=$(fetch_deb "$dir" "$pkg")
	HEADERS_DEB=$(fetch_deb "$dir" "${pkg/linux-image-/linux-headers-}")
}

vm_iso_key() { # vm_iso_key KERNEL_DEB HEADERS_DEB: changes whenever anything that goes into the ISO changes
	{
		echo "$VM_ISO_VERSION $B2D_VERSION $(base_key) $(basename "$1") $(basename "$2")"
		(cd "$CACHE_DIR/b2d-debs" && find . -maxdepth 1 -name '*.deb' | sort)
		(cd "$FILES_DIR" && find kdw-runc boot2docker boot2docker-vm -type f -print0 | sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-12
}

# The VM's additions to the boot2docker kind's root: the kernel's modules (checked: depmod must resolve every symbol),
# kmod as modprobe (busybox's cannot read what Docker and kube-proxy load), e2fsprogs' mkfs.ext4 for the data disk, the
# early boot and its inittab, and the initramfs's /init.
add_vm_parts() { # add_vm_parts ROOT KERNEL_DIR KERNEL_VERSION SYMVERS
	local root=$1 kernel=$2 kv=$3 symvers=$4 modules path base
	modules="$root/usr/lib/modules/$kv"
	mkdir -p "$modules/kernel"
	for path in "${VM_MODULES[@]}"; do
		[ -e "$kernel/lib/modules/$kv/kernel/$path" ] || die "kernel $kv has no module path $path"
		mkdir -p "$modules/kernel/$(dirname "$path")"
		cp -a "$kernel/lib/modules/$kv/kernel/$path" "$modules/kernel/$path"
	done
	for path in "${VM_MODULES_LEFT_OUT[@]}"; do
		rm "$modules/kernel/$path"
	done
	cp -a "$kernel/lib/modules/$kv"/modules.{builtin,builtin.modinfo,order} "$modules/"
	# Debian's System.map is a stub: the kernel's own symbols come from the headers' Module.symvers.
	depmod -a -e -E "$symvers" -b "$root" "$kv" 2>"$root.depmod.log" ||
		die "depmod failed, see $root.depmod.log"
	! grep -q 'unknown symbol' "$root.depmod.log" ||
		die "modules of the ISO need modules left out: $(grep 'unknown symbol' "$root.depmod.log" | head -n5)"

	base=$(mktemp -d "$VM_ISO_DIR/base.XXXXXX")
	tar -C "$base" -xf "$(base_tarfile)" ./usr/bin/kmod ./usr/sbin/mke2fs ./etc/mke2fs.conf
	install -m 0755 "$base/usr/bin/kmod" "$root/usr/bin/kmod"
	local tool
	for tool in modprobe insmod rmmod lsmod modinfo depmod; do
		ln -sf /usr/bin/kmod "$root/sbin/$tool"
	done
	install -m 0755 "$base/usr/sbin/mke2fs" "$root/usr/local/sbin/mke2fs"
	ln -s mke2fs "$root/usr/local/sbin/mkfs.ext4"
	install -m 0644 "$base/etc/mke2fs.conf" "$root/etc/mke2fs.conf"
	rm -rf "$base"

	cp -a --no-preserve=ownership "$VM_FILES_DIR/rootfs/." "$root/"
	install -m 0755 "$VM_FILES_DIR/init" "$root/init"
	# The kernel opens /dev/console for /init before anything mounts devtmpfs.
	mknod -m 0600 "$root/dev/console" c 5 1
}

build_vm_iso() { # build_vm_iso ISO KERNEL_DEB HEADERS_DEB DEBS_DIR KEY
	local iso=$1 kernel_deb=$2 headers_deb=$3 debs=$4 key=$5 work kv
	work=$(mktemp -d "$VM_ISO_DIR/build.XXXXXX")
	# shellcheck disable=SC2064 # the folder is meant to be fixed now
	trap "rm -rf '$work'" EXIT
	fill_b2d_root "$work" "$debs"
	dpkg-deb -x "$kernel_deb" "$work/kernel"
	kv=$(basename "$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d)")
	dpkg-deb --fsys-tarfile "$headers_deb" | tar -xO "./usr/src/linux-headers-$kv/Module.symvers" >"$work/Module.symvers"
	add_vm_parts "$work/root" "$work/kernel" "$kv" "$work/Module.symvers"
	mkdir -p "$work/iso/boot" "$work/iso/isolinux"
	cp "$work/kernel/boot/vmlinuz-$kv" "$work/iso/boot/vmlinuz"
	# Owners kept (run as root); zstd unpacks fast on one virtual CPU, one thread beside the machine's other work.
	(cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | zstd -q -T1 -10 >"$work/iso/boot/initrd.img"
	cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$work/iso/isolinux/"
	# console=ttyS0 last: /dev/console is the serial port, where a VM's boot messages and login are.
	printf '%s\n' 'serial 0 115200' 'default boot2docker' 'prompt 0' 'timeout 1' 'label boot2docker' \
		'  kernel /boot/vmlinuz' '  initrd /boot/initrd.img' \
		'  append console=tty0 console=ttyS0,115200n8 loglevel=3 net.ifnames=0' >"$work/iso/isolinux/isolinux.cfg"
	# docker-machine reads an ISO's version from its volume ID ("Boot2Docker-v<version>").
	xorriso -as mkisofs -o "$work/boot2docker.iso" -A Boot2Docker -V "Boot2Docker-v$VM_ISO_VERSION.0.0-$key" -J -r \
		-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -b isolinux/isolinux.bin -c isolinux/boot.cat \
		-no-emul-boot -boot-load-size 4 -boot-info-table "$work/iso" 2>"$work/xorriso.log" ||
		die "xorriso failed: $(tail -n5 "$work/xorriso.log")"
	mkdir -p "$(dirname "$iso")"
	mv "$work/boot2docker.iso" "$iso"
	rm -rf "$work"
	trap - EXIT
}

VM_ISO=""
ensure_vm_iso() { # sets VM_ISO to the ISO's path, built when its key has none
	local debs key lock
	mkdir -p "$VM_ISO_DIR"
	# One build at a time: a second caller waits and finds the ISO made.
	exec {lock}>"$VM_ISO_DIR/.lock"
	flock "$lock"
	need_iso_packages
	ensure_base_tarfile
	fetch_kernel_debs
	debs=$(b2d_debs)
	key=$(vm_iso_key "$KERNEL_DEB" "$HEADERS_DEB")
	VM_ISO="$VM_ISO_DIR/$key/boot2docker.iso"
	if [ -f "$VM_ISO" ]; then
		log "ISO $VM_ISO present"
	else
		phase "build boot2docker ISO" build_vm_iso "$VM_ISO" "$KERNEL_DEB" "$HEADERS_DEB" "$debs" "$key"
		# ISOs of earlier keys are of no further use.
		find "$VM_ISO_DIR" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name debs -exec rm -rf {} +
	fi
	exec {lock}>&-
}

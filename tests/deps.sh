#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deps: install the Debian packages ccid-gadget needs to build, test
# and run its demo. Idempotent and quiet when nothing is missing; works as
# root or through sudo; runs apt-get update only when it must install or
# download.
set -u

pkgs=(
	# build: module, ccidctl, tests
	build-essential make pkg-config bc kmod cpio rsync
	# the kernel matrix: Debian's 6.1 and 6.12 (bookworm-security)
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.1	# checkpatch.pl, spelling.txt, const_structs
	# building the 7.3 sanitizer kernel (tests/kernel/build)
	flex bison libelf-dev libssl-dev xz-utils
	sparse clang libclang-rt-14-dev
	libxml2-dev libxml2-utils libcacard-dev libnss3-dev libnss3-tools
	libpcsclite-dev libusb-1.0-0-dev
	libglib2.0-dev libgnutls28-dev	# ccidctl: main loop, TLS
	libsystemd-dev			# ccidctl: sd_notify (Type=notify)
	# make deb: Debian's packaging tools; DKMS for the packages' VM test
	debhelper dh-dkms dkms lintian fakeroot
	jq				# tests: a second JSON parser
	# the VM
	qemu-system-x86 busybox-static iproute2 udev
	# the reader in a second VM (tests/vm/run-pair): usbredir and USB/IP
	usbredirect usbip
	# the USB host side and the peers
	pcscd libccid pcsc-tools opensc python3 python3-pyscard usbutils
	softhsm2 vsmartcard-vpicc python3-virtualsmartcard python3-pycryptodome
	vsmartcard-vpcd openssl
	# test harness
	perl
)

# libvirtd for tests/vm/libvirt.t: downloaded here, never installed on this
# machine (it would start a libvirtd here); the test VM installs them on its
# tmpfs overlay, with apt resolving against the same dpkg database
libvirt_pkgs=(libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu)
debcache=${CCID_DEBCACHE:-/var/cache/ccid-gadget/debs}

# sudo when not root; only asked for when something must be installed or
# downloaded
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
need_root() {
	[ -z "$sudo" ] || command -v sudo >/dev/null || {
		echo "deps: not root and no sudo: run 'make deps' as root ($1)" >&2
		exit 1
	}
}
export DEBIAN_FRONTEND=noninteractive
updated=0

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing+=("$p") ;;
	esac
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	need_root "to install ${missing[*]}"
	$sudo apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
	updated=1
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ccid-deps.$$.log 2>&1 || {
		tail -n 30 /tmp/ccid-deps.$$.log >&2
		echo "deps: apt-get install failed (log: /tmp/ccid-deps.$$.log)" >&2
		exit 1
	}
	rm -f /tmp/ccid-deps.$$.log
	echo "deps: done"
fi

# quiet and offline when every package is in the cache already (then it
# needs no root either: nothing is written)
download() {
	pre=$1
	shift
	$pre mkdir -p "$debcache/partial" &&
	$pre apt-get install -y -qq --no-install-recommends --download-only \
		-o Dir::Cache::archives="$debcache" -o APT::Sandbox::User=root \
		"$@" "${libvirt_pkgs[@]}" >/tmp/ccid-deps.$$.log 2>&1
}
if [ -n "$sudo" ] && download "" -o Debug::NoLocking=1 2>/dev/null; then
	:
elif ! { need_root "to download ${libvirt_pkgs[*]}"; download "$sudo"; }; then
	if [ $updated -eq 0 ]; then
		echo "deps: fetching ${libvirt_pkgs[*]} into $debcache (for the VM)"
		$sudo apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
	fi
	download "$sudo" || {
		tail -n 30 /tmp/ccid-deps.$$.log >&2
		echo "deps: downloading ${libvirt_pkgs[*]} into $debcache failed (log: /tmp/ccid-deps.$$.log)" >&2
		exit 1
	}
fi
rm -f /tmp/ccid-deps.$$.log

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# libvirtd (Debian's) defines, starts and destroys a domain whose reader is
# ccidctl's: the packaged hook brings it up and down, QEMU's usb-host holds
# it. The packages are installed in a copy-on-write root on the host
# (tests/vm/pkgroot --libvirt), which the VM boots.
cd "$(dirname "$0")/../.." || exit 1
exec unshare -m tests/vm/pkgroot --libvirt \
	tests/vm/run-vm --root @ROOT@ --timeout 900 tests/vm/guest/libvirt.sh

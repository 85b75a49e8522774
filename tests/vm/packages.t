#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The Debian packages of make deb: installed with dpkg in a copy-on-write
# root on the host (DKMS builds the module for the kernel under test
# there, at the host's speed), that root booted: the module autoloads, the
# packaged ccidctl serves a card as an unprivileged member of group ccid,
# the libvirt hook brings a domain's reader up and down, dpkg -r cleans up
cd "$(dirname "$0")/../.." || exit 1
exec unshare -m tests/vm/pkgroot \
	tests/vm/run-vm --root @ROOT@ --no-module --timeout 600 tests/vm/guest/packages.sh

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# libvirtd (Debian's, installed on the VM's overlay) defines, starts and
# destroys a domain whose reader is ccidctl's: the packaged hook brings it
# up and down, QEMU's usb-host holds it
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 900 tests/vm/guest/libvirt.sh

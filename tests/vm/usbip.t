#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# two VMs: the reader on usbip-vudc, usbip attach from the other VM; pcscd, OpenSC signing, 64 KiB APDUs, card removal, detach, the connection cut under traffic, re-attach
cd "$(dirname "$0")/../.." || exit 1
db=$PWD/build/vm/nssdb-usbip-$$
if ! tests/vm/pair-nssdb "$db" > /dev/null 2>&1; then
	echo "not ok 1 - tests/vm/pair-nssdb: cannot make the NSS database (certutil, libnss3-tools)"
	echo "1..1"
	exit 1
fi
tests/vm/run-pair --timeout 900 tests/vm/guest/usbip-reader.sh tests/vm/guest/usbip-client.sh "$db"
rc=$?
rm -rf "$db"
exit $rc

# SPDX-License-Identifier: GPL-2.0
#
# make demo, inside the VM: the reader on dummy_udc.0 with the example XML's
# card (a CAC card emulated from three NSS certificates), and what the USB
# host side of the same machine sees with unmodified pcscd, libccid and
# OpenSC.
. "$CCID_REPO/tests/vm/lib.sh"
ccidctl=$CCID_REPO/ctl/ccidctl
xml=$CCID_REPO/docs/examples/demo.xml

step() { printf '\n=== %s\n' "$*"; }
die() { echo "demo: $*"; [ -r /tmp/ccidctl.log ] && sed 's/^/  ccidctl| /' /tmp/ccidctl.log; exit 1; }

step "VM: kernel $(uname -r), module loaded"
lsmod | grep -E '^(usb_f_ccid|libcomposite|dummy_hcd) '

step "an NSS database with three certificates and keys (/etc/pki/nssdb, in the VM's overlay)"
"$CCID_REPO/tests/vm/mknssdb.sh" /etc/pki/nssdb || die "cannot make the NSS database"
certutil -L -d sql:/etc/pki/nssdb

step "ccidctl validate $xml"
"$ccidctl" validate "$xml" || die "the example does not validate"

step "ccidctl apply --udc dummy_udc.0 (creates the gadget, serves the card)"
"$ccidctl" apply --udc dummy_udc.0 "$xml" 2>/tmp/ccidctl.log &
daemon=$!
wait_for 20 usb_present || die "the reader did not appear on the USB bus"

step "slot 1: vsmartcard's vicc (an ISO 7816 card in Python) connects over vpcd"
"$CCID_REPO/tests/vm/vicc" -t iso7816 -H 127.0.0.1 -P 35963 >/tmp/vicc.log 2>&1 &
vicc=$!
wait_for 60 sh -c "'$ccidctl' status | grep -q 'slot 1 *\(present\|powered\)'" ||
	{ echo "vicc did not connect:"; sed 's/^/  vicc| /' /tmp/vicc.log; }
sed 's/^/  ccidctl| /' /tmp/ccidctl.log

step "USB host side: the reader on the bus (lsusb)"
lsusb
lsusb -v -d 08e6:4433 2>/dev/null | sed -n '/Interface Descriptor/,/Endpoint Descriptor/p' | head -45

step "USB host side: pcscd + libccid, pcsc_scan"
start_pcscd || die "pcscd did not start"
wait_for 20 sh -c 'pcsc_scan -c -t 2 2>/dev/null | grep -q "Card state.*Card inserted"'
timeout 20 pcsc_scan -t 3 2>&1 | sed -n '/Reader 0/,$p' | grep -v '|  /' | head -60

step "USB host side: OpenSC lists the readers and cards"
opensc-tool --list-readers
opensc-tool --reader 0 --name
opensc-tool --reader 1 --atr

step "USB host side: the CAC card's certificates (OpenSC's PKCS#15 and PKCS#11)"
pkcs15-tool --reader 0 --list-certificates 2>&1
pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so --list-objects --type cert 2>&1

step "ccidctl status"
"$ccidctl" status

step "stopping ccidctl (SIGTERM): the cards go, the gadget is removed"
kill "$vicc" 2>/dev/null
kill -TERM "$daemon"
wait "$daemon"
echo "ccidctl exited $?"
sleep 1
lsusb -d 08e6:4433 >/dev/null 2>&1 && echo "reader still on the bus" || echo "reader gone from the bus"
stop_pcscd
exit 0

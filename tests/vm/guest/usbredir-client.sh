# SPDX-License-Identifier: GPL-2.0
#
# Client VM of usbredir.t (tests/vm/run-pair): no module, no gadget; the
# reader comes from the reader VM (usbredir-reader.sh) through a usb-redir
# device on this VM's qemu-xhci, hot-plugged by run-pair over QMP (as
# libvirt hot-plugs a <redirdev bus='usb' type='tcp'>). Unmodified udevd,
# pcscd + libccid and OpenSC:
#  1. the CAC card of ccidctl's host-certificates: three certificates, and
#     a signature that openssl verifies against the certificate;
#  2. the test card: ATR, APDUs up to 64 KiB both ways, the card taken out
#     and put back in the reader VM seen here.
# After each part the device is unplugged and the reader leaves pcscd.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"
. "$CCID_REPO/tests/vm/pair.sh"

pair_setup client
[ -r "${1:-}/cert1.pem" ] || bail "no NSS database given (run by usbredir.t or usbip.t)"
need_tool pcscd pkcs15-tool pkcs11-tool openssl lsusb timeout /usr/bin/python3 "$OPENSC_P11"
modprobe xhci_pci 2>/dev/null
check "a USB host controller from QEMU (qemu-xhci, xhci_hcd)" \
	sh -c 'ls /sys/bus/pci/drivers/xhci_hcd | grep -q "^0000:"'
client_prepare

# unplug PREFIX: run-pair removes the usb-redir device; the reader goes
unplug() {
	pair_host redir-detach > /tmp/detach.out
	_rc=$?
	show_log /tmp/detach.out
	check "$1: the usb-redir device is unplugged (QMP device_del)" test $_rc -eq 0
	check "$1: the reader leaves this VM's USB bus" wait_for 10 sh -c '! lsusb -d 08e6:4433'
	pcsc_check "$1: pcscd has no reader any more" count 0 20
}

pair_wait cac-ready 900 || bail "the reader VM did not export the CAC reader"
attach_timed usbredir-cac pair_host redir-attach
client_cac cac "$1"
unplug cac
pair_signal cac-done

pair_wait tc-ready 600 || bail "the reader VM did not export the test card's reader"
attach_timed usbredir-tc pair_host redir-attach
client_testcard tc
unplug tc
pair_signal tc-done

stop_pcscd
check "systemd-udevd stops" stop_udevd
pair_dump
done_testing

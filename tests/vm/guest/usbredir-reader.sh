# SPDX-License-Identifier: GPL-2.0
#
# Reader VM of usbredir.t (tests/vm/run-pair): the reader on dummy_hcd,
# exported from the USB host side of that bus by usbredirect, to which
# the client VM's QEMU connects a usb-redir device (usbredir-client.sh).
#  1. ccidctl apply --udc dummy_udc.0 with the host-certificates CAC card;
#     usbredirect serves 08e6:4433 on port 4000 until the client detaches.
#  2. a gadget with ccid-testcard behind it, exported the same way; the
#     card is taken out and put back when the client asks.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"
. "$CCID_REPO/tests/vm/pair.sh"

pair_setup reader
ensure_configfs || bail "configfs not mounted"
need_tool usbredirect "$CCIDCTL" certutil openssl lsusb timeout "$TESTCARD"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

REDIR_LOG=/tmp/usbredirect.log
# redir_start: usbredirect serving the reader from the host side of
# dummy_hcd on port $PAIR_REDIR_PORT, which run-pair forwards
redir_start() {
	echo "=== usbredirect" >> "$REDIR_LOG"
	usbredirect --device 08e6:4433 --as "0.0.0.0:$PAIR_REDIR_PORT" --verbose 3 \
		>> "$REDIR_LOG" 2>&1 &
	REDIR_PID=$!
	wait_for 30 listening "$PAIR_REDIR_PORT"
}

# redir_end: usbredirect must end by itself once its client is gone
redir_end() {
	if wait_for 20 sh -c "! kill -0 $REDIR_PID"; then
		wait "$REDIR_PID"
		ok "$1: usbredirect ends when the client VM unplugs the device (exit $?)"
	else
		not_ok "$1: usbredirect ends when the client VM unplugs the device"
		kill "$REDIR_PID" 2>/dev/null
		wait "$REDIR_PID"
	fi
	REDIR_PID=
}

# --- 1. ccidctl, host-certificates --------------------------------------
[ -r "${1:-}/cert9.db" ] || bail "no NSS database given (run by usbredir.t or usbip.t)"
reader_nssdb "$1" || bail "cannot copy the NSS database to /etc/pki/nssdb"
if ccidctl_start --udc dummy_udc.0 "$E2E_XML/host-certificates.xml"; then
	ok "cac: ccidctl apply --udc dummy_udc.0 host-certificates.xml: serving"
else
	not_ok "cac: ccidctl apply --udc dummy_udc.0 host-certificates.xml: serving"
	pair_dump
	bail "ccidctl did not start"
fi
check "cac: the reader is on the host side of dummy_hcd" wait_for 10 usb_present
check "cac: usbredirect listens on port $PAIR_REDIR_PORT" redir_start
pair_signal cac-ready
check "cac: the client VM is done with the CAC card" pair_wait cac-done 1200
redir_end cac
ccidctl_stop
rc=$?
check "cac: ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0

# --- 2. the test card -----------------------------------------------------
gadget_up t 1 || bail "gadget_up failed"
DEV=$(ccid_dev t) || bail "no /dev/ccidg for the function"
testcard_start "$DEV" -s 0 || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }
check "tc: usbredirect listens on port $PAIR_REDIR_PORT" redir_start
pair_signal tc-ready
reader_card_changes tc
check "tc: the client VM is done with the test card" pair_wait tc-done 900
redir_end tc
testcard_stop
check "tc: ccid-testcard exits 0 on SIGTERM" test $? -eq 0
check "tc: gadget_down" gadget_down t
pair_dump
done_testing

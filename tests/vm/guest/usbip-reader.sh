# SPDX-License-Identifier: GPL-2.0
#
# Reader VM of usbip.t (tests/vm/run-pair): the reader on USB/IP's virtual
# UDC, usbip-vudc.0, exported by usbipd --device on port 3240, which the
# client VM (usbip-client.sh) attaches with vhci-hcd.
#  1. ccidctl apply --udc usbip-vudc.0 with the host-certificates CAC card;
#     the client attaches, signs, detaches: vudc is exportable again and
#     ccidctl serves on.
#  2. ccidctl gadget up --udc usbip-vudc.0, ccid-testcard behind it; the
#     card is taken out and put back when the client asks; the connection
#     is cut under traffic (run-pair kills its relay): vudc is exportable
#     again within seconds, the function offline, the test card still
#     running; the client attaches again and uses it.
# Then everything is taken down and usbip-vudc unloads.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"
. "$CCID_REPO/tests/vm/pair.sh"

pair_setup reader
ensure_configfs || bail "configfs not mounted"
need_tool usbipd "$CCIDCTL" certutil openssl timeout "$TESTCARD"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"
modinfo usbip-vudc > /dev/null 2>&1 || {
	pair_signal skip
	skip_all "kernel $(uname -r) has no usbip-vudc module (CONFIG_USBIP_VUDC)"
}
modprobe usbip-vudc || bail "modprobe usbip-vudc failed"
VUDC=/sys/devices/platform/usbip-vudc.0
check "usbip-vudc.0 is a UDC" test -e /sys/class/udc/usbip-vudc.0
G=$CFS/ccidctl-usbip-vudc.0

vudc_status() {
	[ "$(cat "$VUDC/usbip_status" 2>/dev/null)" = "$1" ]
}

# online_is true|false: what `ccidctl status --json` says of ccid.0's host
online_is() {
	status_json "j['functions'][0]['online'] == $( [ "$1" = true ] && echo True || echo False)"
}

# --- 1. ccidctl, host-certificates --------------------------------------
[ -r "${1:-}/cert9.db" ] || bail "no NSS database given (run by usbredir.t or usbip.t)"
reader_nssdb "$1" || bail "cannot copy the NSS database to /etc/pki/nssdb"
if ccidctl_start --udc usbip-vudc.0 "$E2E_XML/host-certificates.xml"; then
	ok "cac: ccidctl apply --udc usbip-vudc.0 host-certificates.xml: serving"
else
	not_ok "cac: ccidctl apply --udc usbip-vudc.0 host-certificates.xml: serving"
	pair_dump
	bail "ccidctl did not start"
fi
check "cac: ccidctl created $G, bound to usbip-vudc.0" \
	sh -c "[ \"\$(cat $G/UDC)\" = usbip-vudc.0 ] && [ -d $G/functions/ccid.0 ]"
check "cac: vudc is exportable (usbip_status 1)" vudc_status 1
usbipd --device --ipv4 --tcp-port "$PAIR_USBIP_PORT" > /tmp/usbipd.log 2>&1 &
USBIPD_PID=$!
check "cac: usbipd --device listens on port $PAIR_USBIP_PORT" wait_for 30 listening "$PAIR_USBIP_PORT"
pair_signal cac-ready
if pair_wait cac-attached 900; then
	check "cac: vudc is in use while the client is attached (usbip_status 2)" vudc_status 2
	check "cac: the function is online (ccidctl status)" online_is true
else
	not_ok "cac: the client VM attaches"
fi
if pair_wait cac-detached 900; then
	check "cac: after usbip detach, vudc is exportable again within 10 s" wait_for 10 vudc_status 1
	check "cac: the function is offline" wait_for 10 online_is false
	check "cac: ccidctl serves on" kill -0 "$CCIDCTL_PID"
else
	not_ok "cac: the client VM detaches"
fi
ccidctl_stop
rc=$?
check "cac: ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
check "cac: the gadget ccidctl created is gone" test ! -e "$G"

# --- 2. the test card -----------------------------------------------------
"$CCIDCTL" gadget up --udc usbip-vudc.0 "$E2E_XML/host-certificates.xml" > /tmp/gadget.out 2>&1
rc=$?
show_log /tmp/gadget.out
check "tc: ccidctl gadget up --udc usbip-vudc.0 (exit $rc)" test $rc -eq 0
DEV=$(func_dev "$G" ccid.0) || bail "no /dev/ccidg for $G/functions/ccid.0"
testcard_start "$DEV" -s 0 || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }
check "tc: vudc is exportable (usbip_status 1)" wait_for 10 vudc_status 1
pair_signal tc-ready
reader_card_changes tc
if pair_wait tc-cut 900; then
	check "tc: the connection cut: vudc is exportable again within 10 s" wait_for 10 vudc_status 1
	check "tc: the function is offline" wait_for 10 online_is false
	check "tc: ccid-testcard runs on" kill -0 "$TC_PID"
	pair_signal tc-cut-seen
else
	not_ok "tc: the client VM cuts the connection"
fi
if pair_wait tc-reattached 600; then
	check "tc: after the new attach, vudc is in use again" vudc_status 2
	check "tc: the function is online again" online_is true
else
	not_ok "tc: the client VM attaches again"
fi
check "tc: the client VM is done with the test card" pair_wait tc-done 900
check "tc: after its last detach, vudc is exportable again" wait_for 10 vudc_status 1
testcard_stop
check "tc: ccid-testcard exits 0 on SIGTERM" test $? -eq 0
"$CCIDCTL" gadget down --udc usbip-vudc.0 > /tmp/gadget.out 2>&1
rc=$?
show_log /tmp/gadget.out
check "tc: ccidctl gadget down --udc usbip-vudc.0 (exit $rc)" test $rc -eq 0
kill "$USBIPD_PID"
wait "$USBIPD_PID"
check "usbipd exits on SIGTERM" test $? -le 143
# the gadget's driver may outlive the unbind by seconds (DEBUG_KOBJECT_RELEASE)
if [ "${CCID_KDEBUG:-0}" = 1 ]; then
	# There rmmod itself makes DEBUG_OBJECTS report: vudc_remove() frees
	# struct vudc, timer and all, while DEBUG_KOBJECT_RELEASE still holds
	# the release of the gadget device embedded in it (a usbip-vudc bug,
	# docs/testing.md). That nothing holds the module is shown by its
	# reference count instead.
	check "usbip-vudc could unload: nothing holds it (refcnt 0; not unloaded on this kernel)" \
		wait_for 10 grep -qx 0 /sys/module/usbip_vudc/refcnt
else
	check "usbip-vudc unloads: nothing holds it" wait_for 10 rmmod usbip-vudc
fi
pair_dump
done_testing

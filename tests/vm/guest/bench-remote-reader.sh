# SPDX-License-Identifier: GPL-2.0
#
# Reader VM of tests/vm/bench-remote.sh (run by tests/vm/run-pair): one
# gadget with ccid-testcard behind it. First pcscd + libccid here, on
# this VM's own dummy_hcd (the local figure); then the reader exported by
# usbredirect, once per round the client asks for; then the same gadget
# bound to usbip-vudc.0 and exported by usbipd --device. Prints "bench"
# lines; fails only when something does not work at all.
# usage: bench-remote-reader.sh SECONDS ROUNDS
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/pair.sh"

SECS=${1:-10}
ROUNDS=${2:-3}
pair_setup reader
ensure_configfs || bail "configfs not mounted"
need_tool usbredirect usbipd pcscd "$TESTCARD"
G=$CFS/g_b

gadget_up b 1 || bail "gadget_up failed"
DEV=$(ccid_dev b) || bail "no /dev/ccidg"
testcard_start "$DEV" -s 0 || bail "ccid-testcard did not start"
pcscd_usb_only || wait_for 60 test -S /run/pcscd/pcscd.comm || bail "pcscd did not start"
out=$($PY "$CCID_REPO/tests/vm/ccid_bench.py" apdus 0 "$SECS" 2>&1)
echo "bench local $out"
stop_pcscd

i=1
while [ $i -le "$ROUNDS" ]; do
	usbredirect --device 08e6:4433 --as "0.0.0.0:$PAIR_REDIR_PORT" >> /tmp/usbredirect.log 2>&1 &
	rpid=$!
	wait_for 30 listening "$PAIR_REDIR_PORT" || bail "usbredirect does not listen"
	pair_signal "redir-ready-$i"
	pair_wait "redir-done-$i" 600 || bail "the client did not finish usbredir round $i"
	wait_for 20 sh -c "! kill -0 $rpid" || kill "$rpid"
	wait "$rpid"
	i=$((i + 1))
done

testcard_stop
echo "" > "$G/UDC"
modprobe usbip-vudc || bail "modprobe usbip-vudc failed"
udc_bind "$G" usbip-vudc.0 || bail "cannot bind the gadget to usbip-vudc.0"
DEV=$(ccid_dev b) || bail "no /dev/ccidg"
testcard_start "$DEV" -s 0 || bail "ccid-testcard did not start"
usbipd --device --ipv4 --tcp-port "$PAIR_USBIP_PORT" > /tmp/usbipd.log 2>&1 &
upid=$!
wait_for 30 listening "$PAIR_USBIP_PORT" || bail "usbipd does not listen"
pair_signal usbip-ready
pair_wait usbip-done 900 || bail "the client did not finish the USB/IP rounds"
kill "$upid"
wait "$upid"
testcard_stop
gadget_down b
ok "the reader VM served the local, usbredir and USB/IP rounds"
done_testing

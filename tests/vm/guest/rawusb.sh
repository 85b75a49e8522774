# SPDX-License-Identifier: GPL-2.0
#
# Guest side of rawusb.t. First ccid-testcard -T checks the char
# device's validation of what userspace passes (reply lengths and ids,
# slots, ATRs, read-only openers, EMSGSIZE, EAGAIN, EBUSY). Then
# ccid-rawusb speaks raw CCID through libusb (no pcscd): malformed
# messages get the answers the CCID spec prescribes and the reader keeps
# working; class requests are answered; ABORT cancels a pending command,
# and a reply the card sends after the abort is refused (ESTALE) and never
# reaches the host; time extensions keep a slow command alive; hot-plug
# shows on the interrupt endpoint; a USB reset drops a pending command
# cleanly; a card program that stops reading for a while loses nothing
# that matters. Then the kernel's counters must have
# seen the malformed messages, and the test card must still be serving.
# Last, 30 s of random (mostly malformed) messages and class requests:
# the reader must keep answering with well-formed replies.
. "$CCID_REPO/tests/vm/lib.sh"

ensure_configfs || bail "configfs not mounted"
need_tool lsusb timeout "$TESTCARD" "$RAWUSB"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"
pgrep -x pcscd >/dev/null && bail "pcscd is running; it would hold the interface"

gadget_up t 3 busy_slots=3 || bail "gadget_up failed"
DEV=$(ccid_dev t) || bail "no /dev/ccidg for the function"
# the char device's own checks first (lengths, ids, slots, ATRs, owners)
run_tap "ccid-testcard -T" "$TESTCARD" -d "$DEV" -T
testcard_start "$DEV" -v || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }

run_tap "ccid-rawusb test" "$RAWUSB" test -F -c "$TC_CTL"
# random messages: a fixed seed by default, so a failure can be replayed
run_tap "ccid-rawusb fuzz" "$RAWUSB" fuzz -t "${CCID_FUZZ_SECS:-30}" -x "${CCID_FUZZ_SEED:-1}"

# the card program stops reading: power events pile up in the kernel's
# queue (host events beyond its limit are dropped), an APDU waits; once it
# reads again, the APDU is answered
kill -STOP "$TC_PID"
out=$("$RAWUSB" powercycle -S 2 -n 150 2>&1)
check "150 power cycles while the card program does not read ($out)" \
	test "$out" = "150 power cycles, 0 failed"
"$RAWUSB" xfr -S 2 0010000003C0FFEE > /tmp/xfr.out 2>&1 &
XPID=$!
sleep 2
kill -CONT "$TC_PID"
wait_for 20 sh -c "! kill -0 $XPID"
wait "$XPID"
check "...then an APDU queued behind them is answered ($(cat /tmp/xfr.out))" \
	test "$(cat /tmp/xfr.out)" = "C0 FF EE 90 00"
check "ccid-testcard is still running" kill -0 "$TC_PID"
check "ccid-testcard saw the abort of the hanging APDU" grep -q 'event ABORT slot 0' "$TC_LOG"
check "ccid-testcard saw the USB reset: host disconnect, then connect" \
	sh -c 'sed -n "/HOST_DISCONNECT/,\$p" "$1" | grep -q HOST_CONNECT' sh "$TC_LOG"
check "the late reply to the aborted APDU was refused with ESTALE" \
	grep -q 'late reply refused: ESTALE' "$TC_LOG"
testcard_stop
check "ccid-testcard exits 0 on SIGTERM" test $? -eq 0
st=$(grep 'stats:' "$TC_LOG" | tail -1)
diag "$st"
bad=$(printf '%s\n' "$st" | sed -n 's/.* bad_msgs \([0-9]*\).*/\1/p')
check "the function counted the malformed messages (bad_msgs ${bad:-?})" test "${bad:-0}" -ge 4
text=$(printf '%s\n' "$st" | sed -n 's/.* time_ext \([0-9]*\).*/\1/p')
check "the function counted time extensions (${text:-?})" test "${text:-0}" -ge 1
if [ "$tap_failed" -ne 0 ]; then
	diag "ccid-testcard log:"; show_log "$TC_LOG"
fi
check "gadget_down" gadget_down t
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# Guest side of defects.t: one check for each defect the kernel-reach
# review found in the function (see the comment before each). Races are
# reached with the test build of the module (CCID_DEBUG_WINDOWS), whose
# knobs widen the window around usb_ep_queue() or make it fail; the rest
# of the time that build behaves exactly as the normal one.
. "$CCID_REPO/tests/vm/lib.sh"

ensure_configfs || bail "configfs not mounted"
need_tool lsusb timeout "$TESTCARD" "$RAWUSB"
# the test build beside the module the runner loaded
KO_WIN=${CCID_KO%/*}/windows/usb_f_ccid.ko
[ -r "$KO_WIN" ] || bail "no test build of the module: $KO_WIN (make modules-matrix)"
P=/sys/module/usb_f_ccid/parameters

# the normal module is loaded by the runner: this test wants the test build
rmmod usb_f_ccid || bail "cannot unload usb_f_ccid"
insmod "$KO_WIN" || bail "cannot load $KO_WIN"
[ -w "$P/dbg_queue_delay_us" ] || bail "the test build has no dbg_queue_delay_us knob"
[ -w "$P/dbg_queue_stall_us" ] || bail "the test build has no dbg_queue_stall_us knob"

# features must not offer what the function does not do: remote wakeup
# (dwFeatures 0x00100000) is not implemented
mkdir -p "$CFS/g_f/functions/ccid.f" || bail "mkdir functions/ccid.f"
echo 0x001400fe > "$CFS/g_f/functions/ccid.f/features" 2>/dev/null
check "features with USB remote wakeup (0x00100000) is refused" \
	test "$(cat "$CFS/g_f/functions/ccid.f/features")" = 0x000400fe
rmdir "$CFS/g_f/functions/ccid.f" "$CFS/g_f"

gadget_up d 1 || bail "gadget_up failed"
DEV=$(ccid_dev d) || bail "no /dev/ccidg for the function"

# read() that cannot copy the event out (EFAULT) must leave it queued:
# the test card reads every event first into an unwritable buffer, and an
# APDU must still be answered
testcard_start "$DEV" -E || { show_log "$TC_LOG"; bail "ccid-testcard -E did not start"; }
out=$(timeout 20 "$RAWUSB" xfr 0010000003C0FFEE 2>&1)
check "EFAULT from read() loses no event: the APDU is answered ($out)" \
	test "$out" = "C0 FF EE 90 00"
testcard_stop
grep -q 'reads failed with EFAULT as they should' "$TC_LOG" &&
	! grep -q 'the event that faulted is gone' "$TC_LOG"
check "...and every faulting read() was followed by the same event" test $? -eq 0
: > "$TC_LOG"

testcard_start "$DEV" || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }

# a message the host cuts short, then the abort procedure: the framing of
# bulk-out must be in step again
run_tap "ccid-rawusb abortsync" timeout 60 "$RAWUSB" abortsync

# one failed usb_ep_queue() on the interrupt endpoint must not silence
# the bulk endpoints, nor later slot-change notifications
echo 4 > "$P/dbg_fail_queue"
tc_ctl remove 0
sleep 0.5
tc_ctl insert 0
sleep 0.5
check "the injected interrupt-in queue failure was consumed" test "$(cat "$P/dbg_fail_queue")" = 0
out=$(timeout 20 "$RAWUSB" xfr 0010000003C0FFEE 2>&1)
check "after it, bulk still answers APDUs ($out)" test "$out" = "C0 FF EE 90 00"
# a failed bulk-in queue: the reply is sent once the endpoint takes it
echo 1 > "$P/dbg_fail_queue"
out=$(timeout 20 "$RAWUSB" xfr 0010000003C0FFEE 2>&1)
check "a failed bulk-in queue does not lose the reply ($out)" test "$out" = "C0 FF EE 90 00"
# and a failed bulk-out queue does not stop reception
echo 2 > "$P/dbg_fail_queue"
tc_ctl remove 0
tc_ctl insert 0
out=$(timeout 20 "$RAWUSB" xfr 0010000003C0FFEE 2>&1)
check "a failed bulk-out queue does not stop reception ($out)" test "$out" = "C0 FF EE 90 00"
echo 0 > "$P/dbg_fail_queue"

# SET_INTERFACE under traffic, with a wide window around usb_ep_queue():
# nothing built for the old session may be queued in the new one
echo 3000 > "$P/dbg_queue_delay_us"
run_tap "ccid-rawusb altstress" timeout 300 "$RAWUSB" altstress -n 60
echo 0 > "$P/dbg_queue_delay_us"

# unbind while a queue call takes 2.5 s on another CPU: unbind waits for
# it and for every request, and frees everything (kmemleak at the end)
"$RAWUSB" bench -t 8 -s 10 > /tmp/bench.out 2>&1 &
BPID=$!
sleep 2
echo 2500000 > "$P/dbg_queue_stall_us"
sleep 0.2
check "the next queue call took the 2.5 s stall" test "$(cat "$P/dbg_queue_stall_us")" = 0
t0=$(uptime_s)
echo "" > "$CFS/g_d/UDC"
t1=$(uptime_s)
wait "$BPID"
diag "unbind took $((t1 - t0)) s"
check "unbind during a slow usb_ep_queue() completes" test -z "$(cat "$CFS/g_d/UDC")"
check "and does not give up on requests" sh -c '! dmesg | grep -q "not given back"'
udc_bind "$CFS/g_d"
udev_settle
# the card program's file belonged to the old binding: a new one opens
testcard_stop
testcard_start "$DEV" || { show_log "$TC_LOG"; bail "ccid-testcard did not start again"; }
out=$(timeout 20 "$RAWUSB" xfr 0010000003C0FFEE 2>&1)
check "the function works after being bound again ($out)" test "$out" = "C0 FF EE 90 00"

# bound, unbound and bound again: each binding gets a device of its own
for i in 1 2 3; do
	echo "" > "$CFS/g_d/UDC"
	udc_bind "$CFS/g_d" || break
done
udev_settle
check "after three more rebinds $DEV is there" test -c "$DEV"
testcard_stop
testcard_start "$DEV" || { show_log "$TC_LOG"; bail "ccid-testcard did not start again"; }
out=$(timeout 20 "$RAWUSB" xfr 0010000003C0FFEE 2>&1)
check "and the function answers ($out)" test "$out" = "C0 FF EE 90 00"

testcard_stop
gadget_down d
check "rmmod of the test build" rmmod usb_f_ccid
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# Guest side of pcsc-timing.t, through pcscd + libccid + pyscard:
# two slots busy at the same time get their own answers; a card that takes
# 10 s still answers (time extension); removing the card mid-APDU,
# killing the card program mid-APDU and the program exiting mid-APDU each
# give the host an error and an empty reader within a second, and a new
# card program can serve the same device afterwards.
. "$CCID_REPO/tests/vm/lib.sh"

ensure_configfs || bail "configfs not mounted"
need_tool pcscd lsusb timeout /usr/bin/python3 "$TESTCARD"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

NS=3
# libccid uses slots concurrently only if bMaxCCIDBusySlots == slots
gadget_up t "$NS" busy_slots="$NS" || bail "gadget_up failed"
DEV=$(ccid_dev t) || bail "no /dev/ccidg for the function"
testcard_start "$DEV" || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }
pcscd_usb_only || bail "pcscd did not start"
pcsc_py readers "$NS"
for s in 0 1 2; do
	pcsc_py present "$s" "" 10
done

pcsc_py concurrent 0 2 4
pcsc_py concurrent 1 0 3
pcsc_py slow 1 10
tc_ctl stats
sleep 0.5
te=$(grep 'stats:' "$TC_LOG" | tail -1 | sed -n 's/.* time_ext \([0-9]*\).*/\1/p')
check "the function kept the host waiting with time extensions (${te:-none})" test "${te:-0}" -ge 5

# the card program removes slot 0's card while its APDU is pending
pcsc_py eject 0 "$TC_CTL"
check "ccid-testcard is still running after the removal" kill -0 "$TC_PID"
tc_ctl insert 0
pcsc_py present 0 3B8180010000 10

# kill -9 the card program while slot 1's APDU is pending
pcsc_py kill 1 "$TC_PID"
wait "$TC_PID"
rc=$?
check "ccid-testcard died by SIGKILL (status $rc)" test "$rc" -eq 137
TC_PID=
pcsc_py absent 0 1
pcsc_py absent 2 1

# the device is free again: a new card program, cards back, APDUs work
testcard_start "$DEV"
check "a new ccid-testcard opens the device after the kill" test -e /tmp/testcard.ready
pcsc_py present 1 3B8180010101 10
pcsc_py apdus 1

# the card program crashes by itself mid-APDU (INS 1C) on slot 2
pcsc_py present 2 "" 10
pcsc_py crash 2
wait "$TC_PID"
rc=$?
check "ccid-testcard exited with 42 on the crash command (status $rc)" test "$rc" -eq 42
TC_PID=
pcsc_py absent 0 1
stop_pcscd
if [ "$tap_failed" -ne 0 ]; then
	diag "ccid-testcard log:"; show_log "$TC_LOG"
	diag "pcscd log (tail):"; tail -n 80 /tmp/pcscd.log | sed 's/^/#   /'
fi
check "gadget_down" gadget_down t
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# Guest side of pcsc-basic.t: unmodified pcscd + libccid on the USB host
# side of dummy_hcd drive the gadget's reader. Asserts: one reader per slot;
# inserting and removing cards is seen by pyscard, pcsc_scan and
# opensc-tool with the right ATR; APDUs round-trip exactly, short ones, a
# 65,535-byte command data field and a 65,536-byte response. Then, with
# udevd running, pcscd sees the reader itself arrive and leave when the
# gadget is bound and unbound.
. "$CCID_REPO/tests/vm/lib.sh"

ensure_configfs || bail "configfs not mounted"
need_tool pcscd pcsc_scan opensc-tool lsusb timeout /usr/bin/python3 "$TESTCARD"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

NS=3
gadget_up t "$NS" || bail "gadget_up failed"
DEV=$(ccid_dev t) || bail "no /dev/ccidg for the function"
diag "device $DEV"
check "the host enumerates the reader (08e6:4433)" usb_present

testcard_start "$DEV" -s none || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }
# no udevd here: pcscd finds the reader by scanning at start-up
pcscd_usb_only || bail "pcscd did not start"

pcsc_py readers "$NS"
out=$(timeout 20 pcsc_scan -r 2>&1 | strip_colors)
n=$(printf '%s\n' "$out" | grep -cE '^ *[0-9]+: .* [0-9A-F]{2} [0-9A-F]{2}$')
printf '%s\n' "$out" | sed 's/^/#   /'
check "pcsc_scan -r lists $NS readers" test "$n" -eq "$NS"

for s in 0 1 2; do
	pcsc_py absent "$s" 2
done

# insert into slot 1 only: its reader sees the card, the others do not
tc_ctl insert 1
pcsc_py present 1 3B8180010101 5
pcsc_py absent 0 1
out=$(timeout 20 pcsc_scan -n -t 3 2>&1 | strip_colors)
printf '%s\n' "$out" | grep -E 'Reader|ATR|Card state' | sed 's/^/#   /'
check "pcsc_scan shows the ATR of slot 1's card" \
	sh -c 'printf "%s\n" "$1" | grep -q "ATR: 3B 81 80 01 01 01"' sh "$out"
out=$(timeout 20 opensc-tool --reader 1 --atr 2>&1)
diag "opensc-tool --reader 1 --atr: $out"
check "opensc-tool reads the same ATR" \
	sh -c 'printf "%s\n" "$1" | grep -qi "3b:81:80:01:01:01"' sh "$out"

# After a removal, allow for libccid's multi-slot dispatch: a slot whose
# pcscd thread is still busy with the insertion (powering the card) when
# the removal's NotifySlotChange arrives misses that wake-up and looks
# again only when pcscd's 10 s power-off grace period ends.
tc_ctl remove 1
pcsc_py absent 1 12
out=$(timeout 20 pcsc_scan -n -t 2 2>&1 | strip_colors |
	awk '/Reader 1:/ { on = 1; next } /Reader [0-9]+:/ { on = 0 } on')
printf '%s\n' "$out" | sed 's/^/#   /'
check "pcsc_scan shows slot 1's card gone" \
	sh -c 'printf "%s\n" "$1" | grep -q "Card removed" && ! printf "%s\n" "$1" | grep -q "ATR:"' sh "$out"

# a card with a longer, real-world ATR (PC/SC part 3 storage card)
ATR2=3B8F8001804F0CA000000306030001000000006A
tc_ctl insert 2 "$ATR2"
pcsc_py present 2 "$ATR2" 5
tc_ctl remove 2
pcsc_py absent 2 12

# APDUs
tc_ctl insert 0
pcsc_py present 0 3B8180010000 5
pcsc_py apdus 0
tc_ctl insert 2
pcsc_py present 2 "" 5
pcsc_py apdus 2

stop_pcscd
testcard_stop
check "ccid-testcard exits 0 on SIGTERM" test $? -eq 0
grep -q 'stats:' "$TC_LOG" && diag "$(grep 'stats:' "$TC_LOG" | tail -1)"

# Hot-plug of the reader itself. pcscd learns of USB devices from udev
# events: without udevd it sees only the readers present when it starts
# (as above). With udevd it must see the reader come and go. This part
# uses a one-slot reader: bookworm's libccid 1.5.2 can hang while it
# removes a multi-slot reader (seen once in CI: pcscd stopped the polling
# of slots 0 and 1, and slot 2's never ended, while libccid's read thread
# looped on LIBUSB_ERROR_NO_DEVICE until pcscd was killed). Upstream has
# since fixed a race in that code (571eaf8, "multi slots: fix potential
# race in interrupt handling", libccid 1.7.0). The gadget side is the
# same for one slot or three: the device goes away.
check "gadget_down (3 slots)" gadget_down t
gadget_up h 1 || bail "gadget_up (1 slot) failed"
echo "" > "$CFS/g_h/UDC"
check "systemd-udevd starts" start_udevd
pcscd_usb_only || bail "pcscd did not start"
diag "hot-plug: pcscd started with the gadget unbound"
pcsc_py readers 0
udc_bind "$CFS/g_h"
diag "hot-plug: gadget bound after pcscd started"
pcsc_py readers 1
DEV=$(ccid_dev h)
testcard_start "$DEV" -s 0
pcsc_py present 0 3B8180010000 10
pcsc_py apdus 0
echo "" > "$CFS/g_h/UDC"
diag "hot-plug: gadget unbound"
pcsc_py readers 0
check "ccid-testcard exits when its function is unbound" wait_for 5 sh -c "! kill -0 $TC_PID"
TC_PID=
stop_pcscd
check "systemd-udevd stops" stop_udevd
if [ "$tap_failed" -ne 0 ]; then
	diag "ccid-testcard log:"; show_log "$TC_LOG"
	diag "pcscd log:"; grep -v 'winscard_svc\|winscard_msg\|winscard.c' /tmp/pcscd.log | head -n 800 | sed 's/^/#   /'
fi
check "gadget_down" gadget_down h
done_testing

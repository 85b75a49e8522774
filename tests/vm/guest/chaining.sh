# SPDX-License-Identifier: GPL-2.0
#
# Guest side of chaining.t: a reader configured with the smallest
# dwMaxCCIDMessageLength (271, one short APDU), so that extended APDUs
# travel as chained blocks in both directions. First ccid-rawusb chains
# by hand (wLevelParameter 1/3/2, bChainParameter 1/3/2, 0x10 pulls),
# then pcscd + libccid + pyscard move 65,535-byte commands and a
# 65,536-byte response through it.
. "$CCID_REPO/tests/vm/lib.sh"

ensure_configfs || bail "configfs not mounted"
need_tool pcscd lsusb timeout /usr/bin/python3 "$TESTCARD" "$RAWUSB"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

MAX=271
gadget_up t 2 max_msg_len=$MAX busy_slots=2 || bail "gadget_up failed"
DEV=$(ccid_dev t) || bail "no /dev/ccidg for the function"
testcard_start "$DEV" || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }
check "the function reports max_msg_len $MAX" \
	grep -q "max_msg_len $MAX" "$TC_LOG"
check "the class descriptor says dwMaxCCIDMessageLength $MAX" \
	sh -c "lsusb -v -d 08e6:4433 2>/dev/null | grep -Eq 'dwMaxCCID(MessageLength|MsgLen) +$MAX( |\$)'"

# raw chaining, no pcscd yet
out=$( { printf 0014000000FFFF; head -c 65535 /dev/zero | od -An -v -tx1; printf 0008; } |
	"$RAWUSB" xfr -S 0 - 2>&1)
diag "raw 65535-byte zero data field, length+hash: $out"
# FNV-1a of 65535 zero bytes
want=$(/usr/bin/python3 -c '
h=2166136261
for _ in range(65535):
    h=((h^0)*16777619)&0xffffffff
print("00 00 FF FF %02X %02X %02X %02X 90 00" % (h>>24,(h>>16)&255,(h>>8)&255,h&255))')
check "raw chained 65,544-byte command arrives whole" test "$out" = "$want"
out=$("$RAWUSB" xfr -S 1 "00120000000000" 2>&1 | wc -w)
check "raw chained 65,536-byte response arrives whole ($out bytes)" test "$out" -eq 65538
run_tap "ccid-rawusb test" "$RAWUSB" test

pcscd_usb_only || bail "pcscd did not start"
pcsc_py readers 2
pcsc_py present 0 3B8180010000 10
pcsc_py present 1 3B8180010101 10
pcsc_py apdus 0
pcsc_py apdus 1
pcsc_py concurrent 0 1 2

stop_pcscd
testcard_stop
check "ccid-testcard exits 0 on SIGTERM" test $? -eq 0
grep -q 'stats:' "$TC_LOG" && diag "$(grep 'stats:' "$TC_LOG" | tail -1)"
if [ "$tap_failed" -ne 0 ]; then
	diag "ccid-testcard log:"; show_log "$TC_LOG"
	diag "pcscd log (tail):"; tail -n 80 /tmp/pcscd.log | sed 's/^/#   /'
fi
check "gadget_down" gadget_down t
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# make bench: guest script (run by tests/vm/run-vm). XfrBlock round trips
# per second through usb_f_ccid and ccid-testcard's echo command, for
# 10-byte, 261-byte and 64-KiB command APDUs, then the same number of bytes
# out and back through the kernel's Loopback function (usb_f_ss_lb) on the
# same dummy_hcd: the floor. Prints figures and ratios; never pass/fail on
# speed (it fails only when something does not work at all).
# usage: bench.sh [SECONDS_PER_SIZE]
. "$CCID_REPO/tests/vm/lib.sh"

SECS=${1:-5}
SIZES=10,261,65544
ensure_configfs || { echo "bench: configfs not mounted"; exit 1; }
for t in "$TESTCARD" "$RAWUSB"; do
	[ -x "$t" ] || { echo "bench: $t missing (run make)"; exit 1; }
done
lsmod | grep -q '^usb_f_ccid ' || { echo "bench: usb_f_ccid is not loaded"; exit 1; }

gadget_up b 1 || { echo "bench: gadget_up failed"; exit 1; }
DEV=$(ccid_dev b) || { echo "bench: no /dev/ccidg"; exit 1; }
testcard_start "$DEV" || { cat "$TC_LOG"; echo "bench: ccid-testcard did not start"; exit 1; }
echo "bench: ccid function + ccid-testcard, $SECS s per size"
"$RAWUSB" bench -t "$SECS" -s "$SIZES" > /tmp/bench.ccid 2>&1
rc1=$?
cat /tmp/bench.ccid
testcard_stop
gadget_down b

loopback_up || { echo "bench: Loopback gadget failed"; exit 1; }
echo "bench: Loopback function (usb_f_ss_lb, bulk_buflen ${LB_BUFLEN:-65536}), $SECS s per size"
"$RAWUSB" loopback -t "$SECS" -s "$SIZES" > /tmp/bench.loop 2>&1
rc2=$?
cat /tmp/bench.loop
loopback_down

echo
echo "CCID XfrBlock round trips vs. raw bulk loopback on dummy_hcd (kernel $(uname -r), QEMU)"
awk '
function val(line, key,   i, n, f) {
	n = split(line, f, " ")
	for (i = 1; i <= n; i++)
		if (index(f[i], key "=") == 1)
			return substr(f[i], length(key) + 2)
	return ""
}
function label(sz) {
	return sz >= 65536 ? sprintf("%.0f KiB (%d B)", sz / 1024, sz) : sz " B"
}
/^bench ccid / { s = val($0, "size"); c[s] = val($0, "rate"); cm[s] = val($0, "mbps"); order[++n] = s }
/^bench loopback / { s = val($0, "size"); l[s] = val($0, "rate"); lm[s] = val($0, "mbps") }
END {
	printf "%-18s %14s %10s %14s %10s %10s\n", "command APDU", "ccid rt/s", "ccid MB/s", "floor rt/s", "floor MB/s", "ccid/floor"
	for (i = 1; i <= n; i++) {
		s = order[i]
		r = (l[s] > 0) ? sprintf("%.2f", c[s] / l[s]) : "n/a"
		printf "%-18s %14.1f %10.2f %14.1f %10.2f %10s\n", label(s), c[s], cm[s], l[s], lm[s], r
	}
}' /tmp/bench.ccid /tmp/bench.loop
echo "(floor: the same command size out and back through usb_f_ss_lb; MB/s counts both directions)"
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]

# SPDX-License-Identifier: GPL-2.0
#
# make bench: guest script (run by tests/vm/run-vm). In one boot, each
# figure beside its floor:
#  - raw XfrBlock round trips through usb_f_ccid and ccid-testcard's echo
#    command (10-byte, 261-byte and 64 KiB command APDUs) against the same
#    bytes out and back through the kernel's Loopback function
#    (usb_f_ss_lb) on the same dummy_hcd, at high and at full speed. Both
#    functions are in one gadget, and ccid-rawusb's pair mode takes them
#    in turn in bursts of BENCH_BURST (0.2) s, so that the two rates come
#    from the same moments (the machine drifts more within seconds than
#    the two paths differ). RAW_ROUNDS (5) such rounds; printed: the
#    median of each, and the median and range of the rounds' ratios;
#  - four slots kept busy at once (DELAY, one pcscd client thread each)
#    against one;
#  - APDUs per second through pcscd + libccid against raw round trips.
# Prints figures and ratios; never passes or fails on speed (it fails
# only when something does not work at all).
# usage: bench.sh [SECONDS_PER_SAMPLE [RAW_ROUNDS]]
. "$CCID_REPO/tests/vm/lib.sh"

SECS=${1:-5}
RAW_ROUNDS=${2:-5}
BURST=${BENCH_BURST:-0.2}
SIZES=10,261,65544
BENCHPY="$PY $CCID_REPO/tests/vm/ccid_bench.py"
ensure_configfs || { echo "bench: configfs not mounted"; exit 1; }
for t in "$TESTCARD" "$RAWUSB"; do
	[ -x "$t" ] || { echo "bench: $t missing (run make)"; exit 1; }
done
lsmod | grep -q '^usb_f_ccid ' || { echo "bench: usb_f_ccid is not loaded"; exit 1; }
rc=0
: > /tmp/bench.all

# raw SPEED ROUND: the ccid function and the loopback floor in turn
raw() {
	sp=$1
	pair_up "$sp" || { echo "bench: the ccid + Loopback gadget failed"; return 1; }
	DEV=$(ccid_dev b) || { echo "bench: no /dev/ccidg"; return 1; }
	testcard_start "$DEV" || { cat "$TC_LOG"; echo "bench: ccid-testcard did not start"; return 1; }
	echo "bench: $sp, round $2: ccid function + ccid-testcard, and the Loopback function (bulk_buflen ${LB_BUFLEN:-65536}), in turn in bursts of $BURST s, $SECS s each per size"
	"$RAWUSB" pair -t "$SECS" -b "$BURST" -s "$SIZES" > /tmp/bench.out 2>&1 || rc=1
	sed -e "s/^bench ccid /bench ccid speed=$sp round=$2 /" \
	    -e "s/^bench loopback /bench loopback speed=$sp round=$2 /" /tmp/bench.out | tee -a /tmp/bench.all
	testcard_stop
	pair_down || { echo "bench: the ccid + Loopback gadget did not go"; return 1; }
}
for sp in high-speed full-speed; do
	for r in $(seq 1 "$RAW_ROUNDS"); do
		raw "$sp" "$r" || rc=1
	done
done

# busy slots and APDUs/s, through pcscd
start_udevd
gadget_up p 4 || { echo "bench: gadget_up (4 slots) failed"; exit 1; }
DEV=$(ccid_dev p) || { echo "bench: no /dev/ccidg"; exit 1; }
testcard_start "$DEV" || { cat "$TC_LOG"; echo "bench: ccid-testcard did not start"; exit 1; }
pcscd_usb_only || { echo "bench: pcscd did not start"; exit 1; }
echo "bench: pcscd + libccid, 4 slots (busy_slots 4); DELAY 0.2 s"
for n in 1 4; do
	$BENCHPY slots $n "$SECS" 2 2>&1 | tee -a /tmp/bench.all
done
echo "bench: pcscd + libccid, ECHO of 10 bytes on one slot"
$BENCHPY apdus 0 "$SECS" 2>&1 | tee -a /tmp/bench.all
stop_pcscd
testcard_stop
gadget_down p
grep -q 'failed\|Traceback' /tmp/bench.all && rc=1

echo
echo "== usb_f_ccid benchmark (kernel $(uname -r), QEMU; one boot)"
awk '
function val(line, key,   i, n, f) {
	n = split(line, f, " ")
	for (i = 1; i <= n; i++)
		if (index(f[i], key "=") == 1)
			return substr(f[i], length(key) + 2)
	return ""
}
function label(sz) {
	return sz >= 65536 ? sprintf("%.0f KiB", sz / 1024) : sz " B"
}
# the median of v[k, 1..m]
function med(v, k, m,   i, j, t, a) {
	for (i = 1; i <= m; i++)
		a[i] = v[k, i] + 0
	for (i = 2; i <= m; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
/^bench ccid / { k = val($0, "speed") " " val($0, "size"); r = val($0, "round"); c[k, r] = val($0, "rate"); cm[k, r] = val($0, "mbps"); if (r > rounds) rounds = r; if (!(k in seen)) { order[++n] = k; seen[k] = 1 } }
/^bench loopback / { k = val($0, "speed") " " val($0, "size"); r = val($0, "round"); l[k, r] = val($0, "rate"); lm[k, r] = val($0, "mbps") }
/^bench slots / { s[val($0, "n")] = val($0, "rate") }
/^bench pcsc / { p = val($0, "rate") }
END {
	printf "%-11s %-9s %10s %9s %11s %10s %7s %11s\n", "speed", "command", "ccid rt/s", "ccid MB/s", "floor rt/s", "floor MB/s", "ratio", "range"
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, kk, " ")
		lo = hi = ""
		for (r = 1; r <= rounds; r++) {
			q[k, r] = (l[k, r] > 0) ? c[k, r] / l[k, r] : 0
			if (lo == "" || q[k, r] < lo) lo = q[k, r]
			if (hi == "" || q[k, r] > hi) hi = q[k, r]
		}
		printf "%-11s %-9s %10.1f %9.2f %11.1f %10.2f %7.2f %5.2f-%.2f\n", kk[1], label(kk[2]), med(c, k, rounds), med(cm, k, rounds), med(l, k, rounds), med(lm, k, rounds), med(q, k, rounds), lo, hi
	}
	printf "(medians of %d rounds, each of the two taken in turn in short bursts; ratio: the median of the ratios\n of the rounds; floor: the", rounds
	print " same number of bytes out and back through usb_f_ss_lb on the same bus; MB/s counts both directions)"
	printf "\n%-44s %10s %10s %8s\n", "pcscd + libccid", "APDU/s", "floor", "ratio"
	if (s[1] > 0)
		printf "%-44s %10.2f %10.2f %7.2fx\n", "4 slots busy at once vs 1 (DELAY 0.2 s)", s[4], s[1], s[4] / s[1]
	ref = med(c, "high-speed 10", rounds)
	if (ref > 0)
		printf "%-44s %10.1f %10.1f %8.2f\n", "ECHO 10 B, one slot vs raw 10 B round trips", p, ref, p / ref
}' /tmp/bench.all
exit $rc

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
#    Then the 10-byte and 261-byte ones once more with ccid-testcard -P,
#    which polls instead of sleeping: without the wake-up of the card
#    that every command costs (see the pass times below), the ratio is
#    the module's own path against the floor;
#  - four slots kept busy at once (DELAY, one pcscd client thread each)
#    against one;
#  - APDUs per second through pcscd + libccid against raw round trips;
#  - where the raw gap lies: with the function tracer on, how long each
#    dummy_hcd transfer pass takes from its start to the host's URB given
#    back, for the passes that carry a command (OUT) or its answer (IN),
#    ccid against Loopback. That time is on every round trip's critical
#    path; the card's own work runs beside it on the other vCPU. Once
#    more with ccid-testcard -P, which polls instead of sleeping: the
#    difference is what waking the card costs in the command's pass.
# Prints figures and ratios; never passes or fails on speed (it fails
# only when something does not work at all).
# usage: bench.sh [SECONDS_PER_SAMPLE [RAW_ROUNDS]]
. "$CCID_REPO/tests/vm/lib.sh"

SECS=${1:-5}
RAW_ROUNDS=${2:-5}
BURST=${BENCH_BURST:-0.2}
SIZES=10,261,65544
POLL_SIZES=10,261
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
	DEV=$(ccid_dev b) || { echo "bench: no /dev/ccidg"; pair_down; return 1; }
	testcard_start "$DEV" || { cat "$TC_LOG"; echo "bench: ccid-testcard did not start"; pair_down; return 1; }
	echo "bench: $sp, round $2: ccid function + ccid-testcard, and the Loopback function (bulk_buflen ${LB_BUFLEN:-65536}), in turn in bursts of $BURST s, $SECS s each per size"
	"$RAWUSB" pair -t "$SECS" -b "$BURST" -s "$SIZES" > /tmp/bench.out 2>&1 || rc=1
	sed -e "s/^bench ccid /bench ccid speed=$sp round=$2 /" \
	    -e "s/^bench loopback /bench loopback speed=$sp round=$2 /" /tmp/bench.out | tee -a /tmp/bench.all
	testcard_stop
	# the small ones again with the card polling (-P): no command has to
	# wake it, so what is left is the module's own path
	testcard_start "$DEV" -P || { cat "$TC_LOG"; echo "bench: ccid-testcard -P did not start"; pair_down; return 1; }
	echo "bench: $sp, round $2: the same with ccid-testcard -P (polls instead of sleeping), $POLL_SIZES"
	"$RAWUSB" pair -t "$SECS" -b "$BURST" -s "$POLL_SIZES" > /tmp/bench.out 2>&1 || rc=1
	sed -e "s/^bench ccid /bench pollccid speed=$sp round=$2 /" \
	    -e "s/^bench loopback /bench pollloop speed=$sp round=$2 /" /tmp/bench.out | tee -a /tmp/bench.all
	testcard_stop
	pair_down || { echo "bench: the ccid + Loopback gadget did not go"; return 1; }
}
for sp in high-speed full-speed; do
	for r in $(seq 1 "$RAW_ROUNDS"); do
		raw "$sp" "$r" || rc=1
	done
done

# passes SPEED: the pass times of both functions, under the function tracer
T=/sys/kernel/tracing
passes() {
	[ -w "$T/set_ftrace_filter" ] || mount -t tracefs none "$T" 2>/dev/null
	# a kernel without the function tracer: said, and the table left out
	[ -w "$T/set_ftrace_filter" ] ||
		{ echo "bench: $(uname -r) has no function tracer: pass times not measured"; return 0; }
	pair_up "$1" || return 1
	DEV=$(ccid_dev b) || return 1
	testcard_start "$DEV" || return 1
	for path in ccid loopback awake; do
		mode=bench
		[ $path = loopback ] && mode="loopback -d $CCID_VID:$CCID_PID"
		if [ $path = awake ]; then
			# the card polls instead of sleeping: no wake-up to pay
			testcard_stop
			testcard_start "$DEV" -P || return 1
		fi
		echo 0 > $T/tracing_on
		echo > $T/trace
		echo 8192 > $T/buffer_size_kb
		echo nop > $T/current_tracer
		: > $T/set_ftrace_filter
		for f in dummy_timer usb_hcd_giveback_urb ccid_out_complete \
			 ccid_in_complete; do
			echo "$f" >> $T/set_ftrace_filter || { echo "bench: cannot trace $f"; return 1; }
		done
		echo function > $T/current_tracer
		echo 1 > $T/tracing_on
		# shellcheck disable=SC2086
		"$RAWUSB" $mode -t 1 -s 10 > /dev/null 2>&1 || rc=1
		echo 0 > $T/tracing_on
		# from a pass's start to its URB's giveback, on the pass's CPU
		awk -v sp="$1" -v path=$path '
		{
			for (i = 1; i <= NF; i++)
				if ($i ~ /^[0-9]+\.[0-9]+:$/) { ts = substr($i, 1, length($i) - 1) + 0; fn = $(i + 1); break }
			cpu = $0; sub(/^.*\[/, "", cpu); sub(/\].*$/, "", cpu)
		}
		fn == "dummy_timer" { t0 = ts; c0 = cpu; dir = ""; next }
		t0 == "" || cpu != c0 { next }
		fn == "ccid_out_complete" { dir = "out" }
		fn == "ccid_in_complete" && dir == "" { dir = "in" }
		fn == "usb_hcd_giveback_urb" {
			us = (ts - t0) * 1e6
			if (dir != "")
				v[dir, ++n[dir]] = us
			# ccid-rawusb has one URB at a time, command then answer:
			# two passes in a row are one round trip, whatever the
			# phase (Loopback names neither direction)
			if (++np % 2 == 0)
				v["rt", ++n["rt"]] = us + prev
			prev = us
			t0 = ""
		}
		END {
			for (d in n) {
				m = n[d]
				for (i = 1; i <= m; i++) a[i] = v[d, i]
				for (i = 2; i <= m; i++)
					for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
				printf "bench pass speed=%s path=%s dir=%s n=%d us=%.1f\n", sp, path, d, m, a[int((m + 1) / 2)]
			}
		}' $T/trace | tee -a /tmp/bench.all
	done
	echo nop > $T/current_tracer
	: > $T/set_ftrace_filter
	testcard_stop
	pair_down
}
for sp in high-speed full-speed; do
	passes "$sp" || rc=1
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
/^bench pollccid / { k = val($0, "speed") " " val($0, "size"); r = val($0, "round"); pc[k, r] = val($0, "rate"); pcm[k, r] = val($0, "mbps"); if (!(k in pseen)) { porder[++pn] = k; pseen[k] = 1 } }
/^bench pollloop / { k = val($0, "speed") " " val($0, "size"); r = val($0, "round"); pl[k, r] = val($0, "rate"); plm[k, r] = val($0, "mbps") }
/^bench slots / { s[val($0, "n")] = val($0, "rate") }
/^bench pcsc / { p = val($0, "rate") }
/^bench pass / { pt[val($0, "speed") " " val($0, "dir") " " val($0, "path")] = val($0, "us") }
# one row per speed and size: the medians of the rounds and of their ratios
function rows(c, cm, l, lm, order, n,   i, k, kk, r, lo, hi, q) {
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
}
END {
	printf "%-11s %-9s %10s %9s %11s %10s %7s %11s\n", "speed", "command", "ccid rt/s", "ccid MB/s", "floor rt/s", "floor MB/s", "ratio", "range"
	rows(c, cm, l, lm, order, n)
	if (pn) {
		print "the card polling (ccid-testcard -P), so that no command has to wake it:"
		rows(pc, pcm, pl, plm, porder, pn)
	}
	printf "(medians of %d rounds, each of the two taken in turn in short bursts; ratio: the median of the ratios\n of the rounds; floor: the", rounds
	print " same number of bytes out and back through usb_f_ss_lb on the same bus; MB/s counts both directions)"
	printf "\n%-44s %10s %10s %8s\n", "pcscd + libccid", "APDU/s", "floor", "ratio"
	if (s[1] > 0)
		printf "%-44s %10.2f %10.2f %7.2fx\n", "4 slots busy at once vs 1 (DELAY 0.2 s)", s[4], s[1], s[4] / s[1]
	ref = med(c, "high-speed 10", rounds)
	if (ref > 0)
		printf "%-44s %10.1f %10.1f %8.2f\n", "ECHO 10 B, one slot vs raw 10 B round trips", p, ref, p / ref
	printf "\n%-11s %-36s %8s %8s %8s\n", "speed", "10 B: pass start to URB giveback", "ccid us", "floor us", "ccid - floor"
	for (i = 1; i <= 2; i++) {
		sp = i == 1 ? "high-speed" : "full-speed"
		a = pt[sp " rt ccid"]; b = pt[sp " rt loopback"]
		if (a != "" && b != "")
			printf "%-11s %-36s %8.1f %8.1f %8.1f\n", sp, "both passes of a round trip", a, b, a - b
		if (pt[sp " out ccid"] != "")
			printf "%-11s %-36s %8.1f %8s %8s\n", "", "of which the command, OUT", pt[sp " out ccid"], "", ""
		if (pt[sp " in ccid"] != "")
			printf "%-11s %-36s %8.1f %8s %8s\n", "", "of which the answer, IN", pt[sp " in ccid"], "", ""
		a = pt[sp " rt awake"]
		if (a != "" && b != "")
			printf "%-11s %-36s %8.1f %8.1f %8.1f\n", "", "the same, card never asleep (-P)", a, b, a - b
	}
	print "(medians over 1 s of round trips under the function tracer, which slows each traced call by about"
	print " a microsecond; the time is on the critical path of every round trip)"
}' /tmp/bench.all
exit $rc

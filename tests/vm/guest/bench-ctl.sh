# SPDX-License-Identifier: GPL-2.0
#
# Guest script for `make bench` (run by tests/vm/run-vm): the per-APDU
# cost of ccidctl, through pcscd + libccid, in one boot, on one USB device:
# a gadget with four ccid functions (four interfaces, one reader each),
# served at the same time by
#
#   ccid.0  build/tests/ccid-testcard, a C program that answers from
#           /dev/ccidg itself: the floor
#   ccid.1  ccidctl, mode passthrough over a unix socket, to
#           vscard-provider --echo (a VSCard provider that answers at once)
#   ccid.2  the same ccidctl, the same over tcp on 127.0.0.1
#   ccid.3  build/tests/pt-floor, a bare relay on GLib's loop, over a
#           unix socket to the same kind of provider: the least any
#           passthrough can cost here, since the provider's hop is in it
#           too; what ccidctl adds is the gap between rows 1 and 3
#
# Then, ccidctl stopped, a second set of runs puts on ccid.2
# `pt-floor --thread`: the same relay with its provider a thread of it on
# a socketpair, no second program, beside the floor and the relay again.
# It shows whether a passthrough's cost here is the provider's process
# or the hop itself. (Five functions do not fit: dummy_udc's numbered
# endpoints serve three, its unnumbered ones get addresses already in
# use and the host drops the duplicates. The fourth reader here has no
# interrupt endpoint, so pcscd polls it; the thread row, on the third,
# measured the same as the relay on the fourth.)
#
# The cards have the ATR 3B 80 80 01 01 (T=1), so libccid drives them
# alike, and every answer is 90 00. A C PC/SC client
# (build/tests/pcsc-bench) sends one APDU to the four readers in turn, in
# bursts of 200 ms, so that whatever else the host does slows the four
# alike; ROUNDS such runs of SECONDS each. Printed: each path's median
# APDU/s, and its ratio to the floor (the target is >= 0.9) and to the
# relay, with the range over the runs. Figures only: this never fails on speed, only when
# something does not work at all.
# usage: bench-ctl.sh [SECONDS_PER_RUN [ROUNDS]]
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

SECS=${1:-15}
ROUNDS=${2:-3}
ATR=3B80800101
APDU=00209000		# ccid-testcard INS 20: answers P1 P2 as its status word
BENCH=$CCID_BUILD/tests/pcsc-bench

fail() { echo "bench-ctl: $*"; exit 1; }
ensure_configfs || fail "configfs not mounted"
FLOOR=$CCID_BUILD/tests/pt-floor
for t in "$TESTCARD" "$BENCH" "$PROVIDER" "$CCIDCTL" "$FLOOR"; do
	[ -x "$t" ] || fail "$t missing (run make and make tests-build)"
done
command -v pcscd >/dev/null || fail "pcscd missing (Debian pcscd)"
lsmod | grep -q '^usb_f_ccid ' || fail "usb_f_ccid is not loaded"

gadget_multi b 0:1 1:1 2:1 3:1 || fail "gadget_multi failed"
DEV=$(multi_dev b 0) || fail "no /dev/ccidg for ccid.0"
testcard_start "$DEV" -a "$ATR" || fail "ccid-testcard did not start"
cat > /tmp/bench.xml <<'EOF'
<devices>
  <smartcard mode='passthrough' type='unix'>
    <source mode='bind' path='/tmp/bench.sock'/>
    <address type='ccid' controller='1' slot='0'/>
  </smartcard>
  <smartcard mode='passthrough' type='tcp'>
    <source mode='bind' host='127.0.0.1' service='20501'/>
    <address type='ccid' controller='2' slot='0'/>
  </smartcard>
</devices>
EOF
ccidctl_start --control none /tmp/bench.xml || { cat "$CCIDCTL_LOG"; fail "ccidctl did not start"; }
"$PROVIDER" --echo --connect unix:/tmp/bench.sock 2>>/tmp/provider.log &
P1=$!
"$PROVIDER" --echo --connect 127.0.0.1:20501 2>>/tmp/provider.log &
P2=$!
"$FLOOR" "$(multi_dev b 3)" /tmp/floor.sock 2>>/tmp/floor.log &
F=$!
wait_for 10 test -S /tmp/floor.sock || fail "pt-floor did not listen"
"$PROVIDER" --echo --connect unix:/tmp/floor.sock 2>>/tmp/provider.log &
P3=$!
pcscd_usb_only || fail "pcscd did not start"
wait_for 30 sh -c "$PY $CCID_REPO/tests/vm/ccidctl_pcsc.py count 4 1" ||
	{ cat /tmp/floor.log; fail "pcscd does not have the four readers with their cards"; }

echo "bench-ctl: $ROUNDS runs of $SECS s, APDU $APDU, ATR $ATR, bursts of 200 ms in turn"
rm -f /tmp/bench-floor /tmp/bench-unix /tmp/bench-tcp /tmp/bench-relay /tmp/bench.all
# CPU time (clock ticks) of a process so far
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
PIDS="$TC_PID $CCIDCTL_PID $P1 $P2 $F $P3"
c0=
for p in $PIDS; do c0="$c0 $(ticks "$p")"; done
for i in $(seq 1 "$ROUNDS"); do
	"$BENCH" "$SECS" "$APDU" ') 00 00' ') 01 00' ') 02 00' ') 03 00' > /tmp/bench.one 2>&1 ||
		{ cat /tmp/bench.one; fail "run $i did not work"; }
	sed "s/^/bench-ctl: /" /tmp/bench.one | tee -a /tmp/bench.all
	for p in 0:floor 1:unix 2:tcp 3:relay; do
		sed -n "s/^pcsc-bench reader=${p%%:*} .* rate=\([0-9.]*\) .*/\1/p" /tmp/bench.one \
			>> "/tmp/bench-${p#*:}"
	done
done
# CPU per APDU of each program (ccidctl's shared by its two paths)
set -- $c0
cpu=
for p in $PIDS; do
	cpu="$cpu $(( $(ticks "$p") - $1 ))"
	shift
done
apdus() { sed -n "s/^bench-ctl: pcsc-bench reader=$1 apdus=\([0-9]*\) .*/\1/p" /tmp/bench.all | paste -sd+ | bc; }
cpu_us() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.0f", n ? t * 1e6 / hz / n : 0 }'; }
set -- $cpu
US_TC=$(cpu_us "$1" "$(apdus 0)")
US_CTL=$(cpu_us "$2" "$(( $(apdus 1) + $(apdus 2) ))")
US_P1=$(cpu_us "$3" "$(apdus 1)")
US_P2=$(cpu_us "$4" "$(apdus 2)")
US_F=$(cpu_us "$5" "$(apdus 3)")
US_P3=$(cpu_us "$6" "$(apdus 3)")
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
ratios() { paste "/tmp/bench-$2" "/tmp/bench-$1" | awk '$1 > 0 { printf "%.4f\n", $2 / $1 }'; }
F0=$(median < /tmp/bench-floor)
echo
echo "APDUs/s through pcscd + libccid, one USB device, one boot (kernel $(uname -r), QEMU, $(nproc) vCPUs)"
printf '%-32s %8s %8s %11s %8s %11s\n' "path" "APDU/s" "/floor" "range" "/relay" "range"
printf '%-32s %8.1f %8s %11s %8s %11s\n' "ccid-testcard (the floor)" "$F0" "-" "-" "-" "-"
for p in "unix:ccidctl passthrough, unix" "tcp:ccidctl passthrough, tcp"; do
	n=${p%%:*}
	printf '%-32s %8.1f %8.2f %11s %8.2f %11s\n' "${p#*:}" "$(median < "/tmp/bench-$n")" \
		"$(ratios "$n" floor | median)" "$(ratios "$n" floor | range)" \
		"$(ratios "$n" relay | median)" "$(ratios "$n" relay | range)"
done
printf '%-32s %8.1f %8.2f %11s %8s %11s\n' "pt-floor relay, unix" "$(median < /tmp/bench-relay)" \
	"$(ratios relay floor | median)" "$(ratios relay floor | range)" "-" "-"
echo "(medians of $ROUNDS runs; a ratio is the median of each run's path/floor or path/relay;"
echo " target: ccidctl >= 0.9 of the floor; the relay, a bare passthrough to the same"
echo " provider, is what no passthrough can beat here)"
echo "CPU per APDU: ccid-testcard ${US_TC} us; ccidctl ${US_CTL} us; its providers ${US_P1} us (unix),"
echo "  ${US_P2} us (tcp); pt-floor ${US_F} us, its provider ${US_P3} us"

# the second set: ccid.2 served by pt-floor --thread
ccidctl_stop
kill "$P1" "$P2" 2>/dev/null
"$FLOOR" --thread "$(multi_dev b 2)" 2>>/tmp/floor.log &
F2=$!
$PY "$CCID_REPO/tests/vm/ccidctl_pcsc.py" wait ') 02 00' present 20 >/dev/null ||
	{ cat /tmp/floor.log; fail "pt-floor --thread: no card in reader 2"; }
rm -f /tmp/bench-floor2 /tmp/bench-relay2 /tmp/bench-thread
for i in $(seq 1 "$ROUNDS"); do
	"$BENCH" "$SECS" "$APDU" ') 00 00' ') 02 00' ') 03 00' > /tmp/bench.one 2>&1 ||
		{ cat /tmp/bench.one; fail "run $i with pt-floor --thread did not work"; }
	sed "s/^/bench-ctl: thread set: /" /tmp/bench.one
	for p in 0:floor2 1:thread 2:relay2; do
		sed -n "s/^pcsc-bench reader=${p%%:*} .* rate=\([0-9.]*\) .*/\1/p" /tmp/bench.one \
			>> "/tmp/bench-${p#*:}"
	done
done
echo
echo "The same relay, its provider a thread of it (no second program); $ROUNDS runs more"
printf '%-32s %8s %8s %11s %8s %11s\n' "path" "APDU/s" "/floor" "range" "/relay" "range"
printf '%-32s %8.1f %8s %11s %8s %11s\n' "ccid-testcard (the floor)" "$(median < /tmp/bench-floor2)" "-" "-" "-" "-"
printf '%-32s %8.1f %8.2f %11s %8s %11s\n' "pt-floor relay, unix" "$(median < /tmp/bench-relay2)" \
	"$(ratios relay2 floor2 | median)" "$(ratios relay2 floor2 | range)" "-" "-"
printf '%-32s %8.1f %8.2f %11s %8.2f %11s\n' "pt-floor --thread" "$(median < /tmp/bench-thread)" \
	"$(ratios thread floor2 | median)" "$(ratios thread floor2 | range)" \
	"$(ratios thread relay2 | median)" "$(ratios thread relay2 | range)"

kill "$F" "$P3" "$F2" 2>/dev/null
testcard_stop
stop_pcscd
gadget_multi_down b 0 1 2 3
exit 0

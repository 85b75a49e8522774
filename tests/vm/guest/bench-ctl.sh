# SPDX-License-Identifier: GPL-2.0
#
# Guest script for `make bench` (run by tests/vm/run-vm): the per-APDU
# cost of ccidctl, through pcscd + libccid, in one boot, on one USB device:
# a gadget with three ccid functions (three interfaces, one reader each),
# served at the same time by
#
#   ccid.0  build/tests/ccid-testcard, a C program that answers from
#           /dev/ccidg itself: the floor
#   ccid.1  ccidctl, mode passthrough over a unix socket, to
#           vscard-provider --echo (a VSCard provider that answers at once)
#   ccid.2  the same ccidctl, the same over tcp on 127.0.0.1
#
# Then, in a second phase, ccidctl goes and ccid.1 and ccid.2 are served
# by build/tests/pt-floor, the least a passthrough can do (a relay with
# blocking calls, and the same with poll() before each read), to the
# same provider: what no passthrough on this rig can beat, since the
# provider's hop is in it too.
#
# The cards have the ATR 3B 80 80 01 01 (T=1), so libccid drives them
# alike, and every answer is 90 00. A C PC/SC client
# (build/tests/pcsc-bench) sends one APDU to the three readers in turn, in
# bursts of 200 ms, so that whatever else the host does slows the three
# alike; ROUNDS such runs of SECONDS each. Printed: each path's median
# APDU/s, and its ratio to the floor (the target is >= 0.9), with the
# range over the runs. Figures only: this never fails on speed, only when
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

gadget_multi b 0:1 1:1 2:1 || fail "gadget_multi failed"
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
pcscd_usb_only || fail "pcscd did not start"
wait_for 30 sh -c "/usr/bin/python3 $CCID_REPO/tests/vm/ccidctl_pcsc.py count 3 1" ||
	fail "pcscd does not have the three readers"

echo "bench-ctl: $ROUNDS runs of $SECS s, APDU $APDU, ATR $ATR, bursts of 200 ms in turn"
rm -f /tmp/bench-floor /tmp/bench-unix /tmp/bench-tcp /tmp/bench.all \
	/tmp/bench-floor2 /tmp/bench-relay /tmp/bench-relaypoll
# CPU time (clock ticks) of a process so far
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
c_tc=$(ticks "$TC_PID")
c_ctl=$(ticks "$CCIDCTL_PID")
c_p1=$(ticks "$P1")
c_p2=$(ticks "$P2")
# rounds PREFIX R:NAME...: ROUNDS runs over readers 0-2, each reader R's
# rate appended to /tmp/bench-NAME, the output to /tmp/bench.all
rounds() {
	_pre=$1
	shift
	for i in $(seq 1 "$ROUNDS"); do
		"$BENCH" "$SECS" "$APDU" ') 00 00' ') 01 00' ') 02 00' > /tmp/bench.one 2>&1 ||
			{ cat /tmp/bench.one; fail "${_pre}run $i did not work"; }
		sed "s/^/bench-ctl: $_pre/" /tmp/bench.one | tee -a /tmp/bench.all
		for p in "$@"; do
			sed -n "s/^pcsc-bench reader=${p%%:*} .* rate=\([0-9.]*\) .*/\1/p" /tmp/bench.one \
				>> "/tmp/bench-${p#*:}"
		done
	done
}
rounds "" 0:floor 1:unix 2:tcp

# CPU per APDU of each program (ccidctl's shared by its two paths)
cpu_tc=$(( $(ticks "$TC_PID") - c_tc ))
cpu_ctl=$(( $(ticks "$CCIDCTL_PID") - c_ctl ))
cpu_p1=$(( $(ticks "$P1") - c_p1 ))
cpu_p2=$(( $(ticks "$P2") - c_p2 ))

# phase 2: the relays in ccidctl's place, the same providers
ccidctl_stop
kill "$P1" "$P2" 2>/dev/null
wait "$P1" "$P2" 2>/dev/null
"$FLOOR" "$(multi_dev b 1)" /tmp/floor1.sock 2>>/tmp/floor.log &
F1=$!
"$FLOOR" --poll "$(multi_dev b 2)" /tmp/floor2.sock 2>>/tmp/floor.log &
F2=$!
wait_for 10 test -S /tmp/floor1.sock -a -S /tmp/floor2.sock || fail "pt-floor did not listen"
"$PROVIDER" --echo --connect unix:/tmp/floor1.sock 2>>/tmp/provider.log &
P1=$!
"$PROVIDER" --echo --connect unix:/tmp/floor2.sock 2>>/tmp/provider.log &
P2=$!
for r in 1 2; do
	/usr/bin/python3 "$CCID_REPO/tests/vm/ccidctl_pcsc.py" wait ") 0$r 00" present 20 >/dev/null ||
		{ cat /tmp/floor.log; fail "pt-floor's card in reader $r is not seen"; }
done
rounds "relays: " 0:floor2 1:relay 2:relaypoll

apdus() { sed -n "s/^bench-ctl: pcsc-bench reader=$1 apdus=\([0-9]*\) .*/\1/p" /tmp/bench.all | paste -sd+ | bc; }
n_tc=$(apdus 0)
n_ctl=$(( $(apdus 1) + $(apdus 2) ))
n_p1=$(apdus 1)
n_p2=$(apdus 2)
cpu_us() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.0f", n ? t * 1e6 / hz / n : 0 }'; }
US_TC=$(cpu_us "$cpu_tc" "$n_tc")
US_CTL=$(cpu_us "$cpu_ctl" "$n_ctl")
US_P1=$(cpu_us "$cpu_p1" "$n_p1")
US_P2=$(cpu_us "$cpu_p2" "$n_p2")
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
ratios() { paste "/tmp/bench-${2:-floor}" "/tmp/bench-$1" | awk '$1 > 0 { printf "%.4f\n", $2 / $1 }'; }
F=$(median < /tmp/bench-floor)
echo
echo "APDUs/s through pcscd + libccid, one USB device, one boot (kernel $(uname -r), QEMU, $(nproc) vCPUs)"
printf '%-34s %10s %12s %8s %12s\n' "path" "APDU/s" "floor APDU/s" "ratio" "ratio range"
printf '%-34s %10.1f %12s %8s %12s\n' "ccid-testcard (the floor)" "$F" "-" "-" "-"
for p in unix tcp; do
	printf '%-34s %10.1f %12.1f %8.2f %12s\n' "ccidctl passthrough, $p socket" \
		"$(median < "/tmp/bench-$p")" "$F" "$(ratios $p | median)" "$(ratios $p | range)"
done
F2=$(median < /tmp/bench-floor2)
printf '%-34s %10.1f %12.1f %8.2f %12s\n' "pt-floor relay, blocking calls" \
	"$(median < /tmp/bench-relay)" "$F2" "$(ratios relay floor2 | median)" "$(ratios relay floor2 | range)"
printf '%-34s %10.1f %12.1f %8.2f %12s\n' "pt-floor relay, poll() first" \
	"$(median < /tmp/bench-relaypoll)" "$F2" "$(ratios relaypoll floor2 | median)" "$(ratios relaypoll floor2 | range)"
echo "(medians of $ROUNDS runs; ratio: median of each run's path/floor; target >= 0.9;"
echo " the pt-floor rows are a second phase, beside the same floor: the best a passthrough"
echo " to this provider can do here, which bounds the ccidctl rows)"
echo "CPU per APDU: ccid-testcard ${US_TC} us; ccidctl ${US_CTL} us; provider ${US_P1} us (unix), ${US_P2} us (tcp)"

kill "$P1" "$P2" "$F1" "$F2" 2>/dev/null
testcard_stop
stop_pcscd
gadget_multi_down b 0 1 2
exit 0

# SPDX-License-Identifier: GPL-2.0
#
# Guest side of lifecycle.t: unbind and rebind the UDC and remove the
# function while /dev/ccidgN is open (by the card program read-write and
# by this script read-only). Asserts: no oops (the runner checks the
# kernel log); a pending APDU does not hang the host-side client; writing
# "" to UDC unbinds the function, so the card program is told (host
# disconnect, cards removed) and its descriptor then fails; the rebound
# function gets a new node that works; card programs killed and restarted
# over and over under host load break nothing; the same after removing the
# function; rmmod is refused while descriptors are open and succeeds once
# they are closed; the module loads and works again afterwards; two
# function instances in one gadget work side by side.
. "$CCID_REPO/tests/vm/lib.sh"

ensure_configfs || bail "configfs not mounted"
need_tool lsusb timeout rmmod insmod /usr/bin/python3 "$TESTCARD" "$RAWUSB"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

fdpy() { $PY "$CCID_REPO/tests/vm/ccid_fd.py" 7 "$@" 2>&1; }
gone() { ! kill -0 "$1" 2>/dev/null; }

gadget_up t 2 || bail "gadget_up failed"
G=$CFS/g_t
DEV=$(ccid_dev t) || bail "no /dev/ccidg for the function"
exec 7< "$DEV" || bail "cannot open $DEV read-only"
out=$(fdpy config)
diag "read-only descriptor: $out"
check "a read-only descriptor queries the configuration" \
	sh -c 'case "$1" in "ok nslots=2 "*) exit 0;; esac; exit 1' sh "$out"

testcard_start "$DEV" -v || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }
out=$(/usr/bin/python3 -c 'import os,sys; os.open(sys.argv[1], os.O_RDWR)' "$DEV" 2>&1)
check "a second read-write open is refused (EBUSY)" \
	sh -c 'printf "%s" "$1" | grep -q "busy"' sh "$out"
out=$("$RAWUSB" xfr -S 1 00180000 2>&1)
check "APDUs work before the unbind ($out)" test "$out" = "01 90 00"

rmmod usb_f_ccid 2>/dev/null
check "rmmod usb_f_ccid is refused while the function is bound and open" test $? -ne 0

# an APDU pending in the card program when the UDC goes away
"$RAWUSB" xfr -S 0 001A0000 > /tmp/hang.out 2>&1 &
HPID=$!
wait_for 10 grep -q 'hanging until aborted' "$TC_LOG" || diag "the hanging APDU did not arrive"
# writing "" to UDC unbinds the function: its char device goes with it
echo "" > "$G/UDC"
check "unbinding the UDC with an APDU pending: the host-side client returns" \
	wait_for 10 gone "$HPID"
wait "$HPID"
hrc=$?
diag "client: $(cat /tmp/hang.out) (exit $hrc)"
check "ccid-testcard gets HOST_DISCONNECT" wait_for 5 grep -q 'HOST_DISCONNECT' "$TC_LOG"
check "ccid-testcard is told its cards are gone (CARD_REMOVED for both slots)" \
	sh -c 'test "$(grep -c "event CARD_REMOVED" "$1")" -eq 2' sh "$TC_LOG"
check "the card program's descriptor gets an error after the unbind: it exits" \
	wait_for 5 gone "$TC_PID"
wait "$TC_PID"
rc=$?
TC_PID=
diag "ccid-testcard: $(grep -E 'read failed|poll error' "$TC_LOG" | tail -1) (exit $rc)"
check "...with a failure status after a read error (exit $rc)" \
	sh -c 'test "$2" -eq 1 && grep -q "read failed" "$1"' sh "$TC_LOG" "$rc"
out=$(fdpy status)
diag "read-only descriptor after the unbind: $out"
check "the read-only descriptor: an error or an honest offline, empty status" \
	sh -c 'case "$1" in errno=*|"ok nslots=2 online=0 state=0,0 "*) exit 0;; esac; exit 1' sh "$out"
check "the device node is gone while unbound" wait_for 5 test ! -e "$DEV"

udc_bind "$G"
check "rebinding: the host enumerates the reader again" wait_for 10 usb_present
check "rebinding: the device node is back" wait_for 5 ccid_dev t
out=$(fdpy status)
diag "the stale read-only descriptor after the rebind: $out"
DEV=$(ccid_dev t)
: > "$TC_LOG"
testcard_start "$DEV" -v
check "a new ccid-testcard opens the rebound device" test -e /tmp/testcard.ready
out=$("$RAWUSB" xfr -S 1 00180000 2>&1)
check "after rebinding, APDUs work ($out)" test "$out" = "01 90 00"
testcard_stop

i=0
while [ $i -lt 5 ]; do
	echo "" > "$G/UDC"
	udc_bind "$G"
	i=$((i + 1))
done
check "five quick unbind/rebind cycles: the host enumerates the reader" wait_for 10 usb_present
DEV=$(ccid_dev t)
testcard_start "$DEV" -v
out=$("$RAWUSB" xfr -S 0 00100000030A0B0C 2>&1)
check "...and APDUs still work ($out)" test "$out" = "0A 0B 0C 90 00"
exec 8< "$DEV" || bail "cannot open $DEV read-only"

# churn: the card program dies (SIGKILL or SIGTERM) and comes back, over
# and over, while the host keeps sending APDUs that take 0.3 s to answer
testcard_stop
touch /tmp/churn
(
	i=0
	while [ -e /tmp/churn ]; do
		if "$RAWUSB" xfr -w 2 -S $((i % 2)) 00160003015A > /dev/null 2>&1; then
			echo answered >> /tmp/churn.count
		else
			echo failed >> /tmp/churn.count
		fi
		i=$((i + 1))
	done
) &
CHURN=$!
i=0
fails=0
while [ $i -lt 16 ]; do
	rm -f /tmp/testcard.ready
	"$TESTCARD" -d "$DEV" -r /tmp/testcard.ready 2>> /tmp/churn.log &
	p=$!
	wait_for 5 test -e /tmp/testcard.ready || fails=$((fails + 1))
	sleep 0.$((3 + i % 7))
	if [ $((i % 2)) -eq 0 ]; then kill -KILL "$p"; else kill -TERM "$p"; fi
	wait "$p"
	i=$((i + 1))
done
rm -f /tmp/churn
check "16 card programs came and went under load (open failures: $fails)" test "$fails" -eq 0
check "the host-side APDU loop ends" wait_for 20 gone "$CHURN"
na=$(grep -c answered /tmp/churn.count)
nf=$(grep -c failed /tmp/churn.count)
check "APDUs went through during the churn ($na answered, $nf failed)" test "$na" -gt 0
testcard_start "$DEV" -v
out=$("$RAWUSB" xfr -S 1 00100000020102 2>&1)
check "after the churn, APDUs work ($out)" test "$out" = "01 02 90 00"

# remove the function while the card program and a read-only reader
# (fd 8) have it open, and fd 7 still holds the device of the first bind
rm "$G/configs/c.1/ccid.t"
rc_rm=$?
rmdir "$G/functions/ccid.t"
rc_rmdir=$?
check "unlinking and removing the bound function works ($rc_rm, $rc_rmdir)" \
	test "$rc_rm" -eq 0 -a "$rc_rmdir" -eq 0
check "the card program's descriptor gets an error: it exits" wait_for 5 gone "$TC_PID"
wait "$TC_PID"
rc=$?
TC_PID=
diag "ccid-testcard exit $rc; $(grep -E 'read failed|poll error|exit' "$TC_LOG" | tail -3 | tr '\n' ' ')"
check "...with a failure status, not a signal (exit $rc)" test "$rc" -ge 1 -a "$rc" -lt 128
out=$($PY "$CCID_REPO/tests/vm/ccid_fd.py" 8 status 2>&1)
diag "read-only descriptor after removal: $out"
check "the read-only descriptor: an error or an honest offline, empty status" \
	sh -c 'case "$1" in errno=*|"ok nslots=2 online=0 state=0,0 "*) exit 0;; esac; exit 1' sh "$out"
check "the device node is gone" wait_for 5 test ! -e "$DEV"
gadget_down t
check "the rest of the gadget goes away" test ! -d "$G"

rmmod usb_f_ccid 2>/dev/null
rc=$?
check "rmmod usb_f_ccid is refused while descriptors are open" test "$rc" -ne 0
exec 7<&- 8<&-
check "rmmod usb_f_ccid succeeds once they are closed" rmmod usb_f_ccid
check "the module is gone" sh -c '! lsmod | grep -q "^usb_f_ccid "'

# load it again: everything works as before
check "insmod usb_f_ccid again" insmod "${CCID_KO:-$CCID_REPO/usb_f_ccid.ko}"
gadget_up t 1 || bail "gadget_up after reload failed"
DEV=$(ccid_dev t) || bail "no /dev/ccidg after reload"
testcard_start "$DEV" || bail "ccid-testcard did not start after reload"
out=$("$RAWUSB" xfr -S 0 00180000 2>&1)
check "after reloading the module, APDUs work ($out)" test "$out" = "00 90 00"
testcard_stop
check "ccid-testcard exits 0 on SIGTERM" test $? -eq 0
check "gadget_down" gadget_down t

# two function instances in one gadget: two interfaces, two char devices,
# two independent card programs
gadget_multi m a:2 b:1 || bail "a gadget with two ccid instances failed"
DA=$(multi_dev m a)
DB=$(multi_dev m b)
diag "instances: a $DA, b $DB"
check "two instances get two distinct device nodes" \
	sh -c 'test -c "$1" && test -c "$2" && test "$1" != "$2"' sh "$DA" "$DB"
"$TESTCARD" -d "$DA" -a 3B8180010A0B -r /tmp/a.ready 2> /tmp/a.log &
PA=$!
"$TESTCARD" -d "$DB" -a 3B8180010B0A -r /tmp/b.ready -v 2> /tmp/b.log &
PB=$!
wait_for 10 test -e /tmp/a.ready -a -e /tmp/b.ready
out=$("$RAWUSB" atr -i 0 -S 1 2>&1)
check "interface 0, slot 1 holds instance a's card ($out)" test "$out" = "3B 81 80 01 0A 0B"
out=$("$RAWUSB" atr -i 1 -S 0 2>&1)
check "interface 1, slot 0 holds instance b's card ($out)" test "$out" = "3B 81 80 01 0B 0A"
out=$("$RAWUSB" xfr -i 1 -S 0 0010000002AABB 2>&1)
check "APDUs on interface 1 reach instance b ($out)" \
	sh -c 'test "$1" = "AA BB 90 00" && grep -q "answered slot 0" /tmp/b.log' sh "$out"
kill "$PB"
wait "$PB"
check "instance b's card program exits 0 on SIGTERM" test $? -eq 0
out=$("$RAWUSB" xfr -i 0 -S 1 00180000 2>&1)
check "instance a still works after b's program left ($out)" test "$out" = "01 90 00"
kill "$PA"
wait "$PA"
check "instance a's card program exits 0 on SIGTERM" test $? -eq 0
check "the two-instance gadget goes away" gadget_multi_down m a b
check "final rmmod usb_f_ccid" rmmod usb_f_ccid
if [ "$tap_failed" -ne 0 ]; then
	diag "ccid-testcard log:"; show_log "$TC_LOG"
	dmesg | tail -n 40 | sed 's/^/#   /'
fi
done_testing

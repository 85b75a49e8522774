# SPDX-License-Identifier: GPL-2.0
#
# Guest side of ccidctl-faults.t: what a card provider, the network or
# the system can do to a passthrough card, seen from the USB host side
# (pcscd + libccid + pyscard), one scenario per point of issue 10. The
# providers are tests/vm/vscard_peer.py, which misbehaves on purpose.
#
#   error       a VSCard Error while an APDU is pending fails it at once
#   oversize    an answer longer than the kernel takes fails at once
#   twoadds     a second ReaderAdd gets CANNOT_ADD_MORE_READERS
#   noinit      a provider that sends no Init is still served
#   silent      a peer that connects first and says nothing is dropped
#               after --open-timeout; the provider behind it gets the slot
#   connect     connect without <reconnect> to nobody: apply fails
#   inuse       a bind on a port in use at start is retried
#   file        a regular file at a unix bind path: refused, left alone
#   umask       the unix socket is 0600 under umask 000
#   addresses   a name that resolves to ::1 then 127.0.0.1 connects
#   emfile      accept() out of descriptors does not spin the daemon
#   json        status --json with a gadget named g"q\x parses
#   sighup      SIGHUP reloads instead of stopping
#
# usage: ccidctl-faults.sh [CCIDCTL [SCENARIO...]]: CCIDCTL ("" for the
# tree's ctl/ccidctl) runs instead of the tree's, to see an older build fail
# the same checks; SCENARIOs (the names above) run only those.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

[ -n "${1:-}" ] && CCIDCTL=$1
[ $# -gt 0 ] && shift
ONLY=" $* "
# want NAME: the scenario is to run
want() { [ "$ONLY" = "  " ] || case $ONLY in *" $1 "*) true ;; *) false ;; esac; }
PEER="$PY $CCID_REPO/tests/vm/vscard_peer.py"
CACATR=3B7A18000073667465206364313434
NS="xmlns:ccid='http://ccid-gadget.invalid/xmlns/ccidctl/1'"

ensure_configfs || bail "configfs not mounted"
need_tool "$CCIDCTL" "$PROVIDER" pcscd prlimit ss lsusb timeout /usr/bin/python3
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"
diag "ccidctl under test: $CCIDCTL"

# one reader with four slots for the whole file; every scenario uses slot 0
gadget_up 0 4 || bail "gadget_up failed"
start_udevd >/dev/null 2>&1
pcscd_usb_only || bail "pcscd did not start"
pcsc_check "pcscd has the reader's four slots" count 4 30
echo "00A4040007A0000000790100" > /tmp/select.apdu

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# card XML SOURCE-ATTRS [CHILDREN]: one passthrough card in slot 0
card() {
	cat > "/tmp/$1.xml" <<EOF
<devices $NS>
  <controller type='ccid' index='0' ccid:slots='4'/>
  <smartcard mode='passthrough' type='$2'>
    <source $3>$4</source>
    <address type='ccid' controller='0' slot='0'/>
  </smartcard>
</devices>
EOF
}

# peer NAME ARGS...: vscard_peer.py in the background, output in /tmp/peer-NAME
peer() {
	_n=$1
	shift
	$PEER "$@" > "/tmp/peer-$_n" 2>&1 &
	eval "PEER_$_n=\$!"
}
peer_stop() {
	eval "_p=\${PEER_$1:-}"
	[ -n "$_p" ] && kill "$_p" 2>/dev/null && wait "$_p" 2>/dev/null
	eval "PEER_$1="
	return 0
}

# fails_fast DESC MAX-S: one APDU through pcscd fails, and the transmit
# alone (not the Python start-up) takes at most MAX-S seconds
fails_fast() {
	timeout 60 $PY "$CCID_REPO/tests/vm/ccidctl_pcsc.py" transmit '#0' \
		00A4040007A0000000790100 > /tmp/apdu.out 2>&1
	sed 's/^/#   /' /tmp/apdu.out
	_t=$(awk '/^transmit took/ { print $3 }' /tmp/apdu.out)
	if grep -q -- '-> error' /tmp/apdu.out && [ -n "$_t" ] &&
	   awk -v t="$_t" -v m="$2" 'BEGIN { exit !(t <= m) }'; then
		ok "$1 (${_t} s)"
	else
		not_ok "$1 (transmit: ${_t:-no answer in 60 s}; wanted an error within $2 s)"
	fi
}

# --- error: a VSCard Error while an APDU is pending -----------------------
if want error; then
card error tcp "mode='bind' host='127.0.0.1' service='20201'"
ccidctl_start --apdu-timeout 30 /tmp/error.xml || not_ok "ccidctl serves error.xml"
peer e error --connect 127.0.0.1:20201
pcsc_check "error: the provider's card is in" wait '#0' present 20 "$CACATR"
fails_fast "fault: a VSCard Error for a pending APDU fails it at once, not after --apdu-timeout 30" 3
peer_stop e
ccidctl_stop

fi

# --- oversize: a 65539-byte answer ----------------------------------------
if want oversize; then
card oversize tcp "mode='bind' host='127.0.0.1' service='20201'"
ccidctl_start --apdu-timeout 30 /tmp/oversize.xml || not_ok "ccidctl serves oversize.xml"
peer o oversize --connect 127.0.0.1:20201
pcsc_check "oversize: the provider's card is in" wait '#0' present 20 "$CACATR"
fails_fast "fault: an answer of 65539 bytes (the kernel takes 65538) fails the APDU at once" 3
check "... and ccidctl says why" log_has 'more than the 65538 a response can have'
peer_stop o
ccidctl_stop

fi

# --- twoadds and noinit: VSCard as QEMU answers it --------------------------
if want twoadds || want noinit || want sighup; then
card vsc tcp "mode='bind' host='127.0.0.1' service='20201'"
ccidctl_start /tmp/vsc.xml || not_ok "ccidctl serves vsc.xml"
peer t twoadds --connect 127.0.0.1:20201 --seconds 20
pcsc_check "twoadds: the card is in" wait '#0' present 20 "$CACATR"
sed 's/^/#   /' /tmp/peer-t
check "fidelity: a second ReaderAdd gets Error(CANNOT_ADD_MORE_READERS = 2), the first success" \
	grep -q 'readeradd codes 0 2' /tmp/peer-t
peer_stop t
pcsc_check "the provider gone, its card leaves" wait '#0' absent 15
peer n noinit --connect 127.0.0.1:20201 --seconds 30
pcsc_check "fidelity: a provider that sends ReaderAdd and ATR without Init is served (QEMU needs no Init)" \
	wait '#0' present 20 "$CACATR"
timeout 30 $PY "$CCID_REPO/tests/vm/ccidctl_pcsc.py" script '#0' /tmp/select.apdu > /tmp/apdu.out 2>&1
sed 's/^/#   /' /tmp/apdu.out
check "... and its card answers" grep -q -- '-> 90 00' /tmp/apdu.out
peer_stop n

# --- sighup: reload, not stop -------------------------------------------------
kill -HUP "$CCIDCTL_PID"
sleep 2
check "SIGHUP does not stop ccidctl" kill -0 "$CCIDCTL_PID"
check "... it reloads the file" log_has 'SIGHUP.*reloading'
ccidctl_stop

fi

# --- silent: a peer that says nothing ----------------------------------------
if want silent; then
card silent tcp "mode='bind' host='127.0.0.1' service='20201'"
ccidctl_start /tmp/silent.xml || not_ok "ccidctl serves silent.xml"
peer s silent --connect 127.0.0.1:20201 --seconds 40
sleep 1
peer n2 normal --connect 127.0.0.1:20201 --seconds 60
pcsc_check "security: a peer that connects first and says nothing is dropped; the provider behind it gets the slot" \
	wait '#0' present 30 "$CACATR"
wait_for 45 sh -c '! kill -0 '"$PEER_s"' 2>/dev/null'
sed 's/^/#   /' /tmp/peer-s
check "... the silent peer was closed after about 10 s (--open-timeout)" \
	awk '/^closed by the card user after/ { seen = 1; t = $7 } END { exit !(seen && t >= 8 && t <= 20) }' /tmp/peer-s
peer_stop n2
peer_stop s
ccidctl_stop

fi

# --- connect: a peer that is not there, no <reconnect> --------------------
if want connect; then
card connect tcp "mode='connect' host='127.0.0.1' service='20299'"
if ccidctl_start /tmp/connect.xml; then
	not_ok "fault: connect without <reconnect> to nobody: apply fails at start, as QEMU refuses to start"
	ccidctl_stop
else
	ok "fault: connect without <reconnect> to nobody: apply fails at start, as QEMU refuses to start"
fi
check "... saying why" log_has 'card 0\.0: cannot connect to 127\.0\.0\.1:20299'

fi

# --- inuse: the port is taken at start ----------------------------------------
if want inuse; then
/usr/bin/python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 20202)); s.listen(1); print("holding", flush=True); time.sleep(600)' > /tmp/holder 2>&1 &
HOLDER=$!
wait_for 20 grep -q holding /tmp/holder || not_ok "the port holder runs"
card inuse tcp "mode='bind' host='127.0.0.1' service='20202'"
ccidctl_start /tmp/inuse.xml || not_ok "ccidctl serves inuse.xml though its port is taken"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
peer i normal --connect 127.0.0.1:20202
pcsc_check "fault: a bind that found its port in use (EADDRINUSE) at start is retried: the card comes" \
	wait '#0' present 30 "$CACATR"
peer_stop i
ccidctl_stop

fi

# --- file and umask: unix sockets -----------------------------------------------
if want file || want umask; then
printf 'precious\n' > /tmp/victim.sock
card file unix "mode='bind' path='/tmp/victim.sock'"
if ccidctl_start /tmp/file.xml; then
	not_ok "security: a regular file at the unix bind path: apply refuses"
	ccidctl_stop
else
	ok "security: a regular file at the unix bind path: apply refuses"
fi
check "... and the file is still there, unchanged" \
	sh -c '[ -f /tmp/victim.sock ] && [ "$(cat /tmp/victim.sock)" = precious ]'
rm -f /tmp/victim.sock /tmp/card.sock
card umask unix "mode='bind' path='/tmp/card.sock'"
umask_was=$(umask)
umask 000
ccidctl_start /tmp/umask.xml || not_ok "ccidctl serves umask.xml"
umask "$umask_was"
mode=$(stat -c %a /tmp/card.sock 2>/dev/null)
check "security: under umask 000 the unix socket is mode 600 (got $mode)" test "$mode" = 600
ccidctl_stop
check "... and it is removed when ccidctl stops" test ! -e /tmp/card.sock

fi

# --- addresses: ::1 first, the provider on 127.0.0.1 -------------------------------
if want addresses; then
{ printf '::1 cardhost\n127.0.0.1 cardhost\n'; cat /etc/hosts; } > /tmp/hosts.new &&
	cat /tmp/hosts.new > /etc/hosts
/usr/bin/python3 -c 'import socket
for a in socket.getaddrinfo("cardhost", 20203, type=socket.SOCK_STREAM): print("#   cardhost:", a[4])'
peer a normal --listen 127.0.0.1:20203
wait_for 20 grep -q listening /tmp/peer-a
card addresses tcp "mode='connect' host='cardhost' service='20203'"
ccidctl_start /tmp/addresses.xml || not_ok "ccidctl serves addresses.xml"
pcsc_check "fault: host='cardhost' resolves to ::1 (nobody) and 127.0.0.1: the second address is tried, the card comes" \
	wait '#0' present 20 "$CACATR"
peer_stop a
ccidctl_stop

fi

# --- emfile: no descriptor left for accept() ----------------------------------------
if want emfile; then
card emfile tcp "mode='bind' host='127.0.0.1' service='20204'"
# RLIMIT_NOFILE bounds descriptor numbers, and poll() refuses more
# descriptors than it: ccidctl's must be 0..N-1 without a hole, so its
# ready descriptor (closed once serving) is 9 (the highest a POSIX shell
# redirects), not 3
rm -f /tmp/ccidctl.ready
echo "=== ccidctl apply --ready-fd 9 /tmp/emfile.xml" >> "$CCIDCTL_LOG"
"$CCIDCTL" apply --ready-fd 9 /tmp/emfile.xml 9> /tmp/ccidctl.ready 2>> "$CCIDCTL_LOG" &
CCIDCTL_PID=$!
wait_for 30 grep -q '^ready$' /tmp/ccidctl.ready || not_ok "ccidctl serves emfile.xml"
nfd=0
while [ -e "/proc/$CCIDCTL_PID/fd/$nfd" ]; do nfd=$((nfd + 1)); done
ls -l /proc/"$CCIDCTL_PID"/fd | sed 's/^/#   /'
check "emfile: ccidctl's descriptors are 0..$((nfd - 1)), no hole" \
	test "$(ls /proc/"$CCIDCTL_PID"/fd | wc -l)" -eq "$nfd"
prlimit --pid "$CCIDCTL_PID" --nofile="$nfd:$nfd"
# a provider in C: it starts at once, even on a busy host
"$PROVIDER" --echo --connect 127.0.0.1:20204 > /tmp/peer-m 2>&1 &
PEER_m=$!
# the provider's connection waits in the backlog, accept() fails on it
check "emfile: the provider's connection waits to be accepted" \
	wait_for 30 sh -c "ss -Htn state established '( dport = :20204 )' | grep -q ."
sleep 1
cpu() { awk '{ print $14 + $15 }' /proc/"$CCIDCTL_PID"/stat; }
c0=$(cpu)
sleep 3
c1=$(cpu)
diag "ccidctl used $((c1 - c0)) clock ticks in 3 s with no descriptor left (limit $nfd)"
check "fault: accept() failing with EMFILE does not spin: under 0.3 s of CPU in 3 s ($((c1 - c0)) ticks)" \
	test $((c1 - c0)) -lt 30
prlimit --pid "$CCIDCTL_PID" --nofile=1024:1024 || not_ok "prlimit gives ccidctl its descriptors back"
prlimit --pid "$CCIDCTL_PID" --nofile | sed 's/^/#   /'
check "... accept() did fail with EMFILE" log_has 'card 0\.0: cannot accept a provider: Too many open files'
pcsc_check "... once descriptors are free again, the waiting provider's card comes" wait '#0' present 30 3B80800101
peer_stop m
ccidctl_stop

fi

# --- json: odd names ----------------------------------------------------------------------
if want json; then
G='g"q\x'
mkdir "$CFS/$G" && mkdir "$CFS/$G/functions/ccid.json"
"$CCIDCTL" status --json > /tmp/status.json 2>&1
check "status --json with a gadget named $G parses (python3 -m json.tool)" \
	/usr/bin/python3 -m json.tool /tmp/status.json
check "... the name round-trips, and nslots is a number" /usr/bin/python3 -c '
import json, sys
j = json.load(open("/tmp/status.json"))
f = [x for x in j["functions"] if x["function"] == "ccid.json"]
sys.exit(0 if f and f[0]["gadget"] == sys.argv[1] and type(f[0]["nslots"]) is int else 1)' "$G"
rmdir "$CFS/$G/functions/ccid.json" "$CFS/$G"
sed 's/^/#   /' /tmp/status.json | head -20

fi

stop_pcscd
gadget_down 0
stop_udevd >/dev/null 2>&1
e2e_dump
done_testing

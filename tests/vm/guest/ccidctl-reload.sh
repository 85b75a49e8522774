# SPDX-License-Identifier: GPL-2.0
#
# Guest side of ccidctl-reload.t: cards inserted, replaced and ejected at
# run time by editing the XML and reloading (`ccidctl reload`, SIGHUP),
# while an unchanged card keeps answering APDUs: a pyscard session holds
# one card handle on it from the first reload to the last, and not one
# transmit fails (a reset or a removal would fail it with
# SCARD_W_RESET_CARD or SCARD_W_REMOVED_CARD).
#
#   0.0  passthrough, an echo provider (vscard-provider --echo): kept
#   0.1  host-certificates (libcacard): kept, ejected, put back
#   0.2  passthrough: inserted (unix), replaced (tcp), ejected (SIGHUP)
#
# Files that change nothing: one that does not parse, one that needs a
# libcacard card with certificates it was not started with, one that
# needs a reader the gadget does not have. Each says why.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

ensure_configfs || bail "configfs not mounted"
need_tool "$CCIDCTL" "$PROVIDER" pcscd certutil lsusb timeout /usr/bin/python3
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

CACATR=3B7A18000073667465206364313434
ECHOATR=3B80800101
X=/tmp/cards.xml
mkdir -p /etc/pki
"$CCID_REPO/tests/vm/mknssdb.sh" /etc/pki/nssdb || bail "mknssdb.sh failed"

# cards.xml with the smartcards given as arguments (their XML)
write_xml() {
	{
		echo "<domain type='kvm' xmlns:ccid='http://ccid-gadget.invalid/xmlns/ccidctl/1'>"
		echo "  <devices>"
		echo "    <controller type='ccid' index='0' ccid:slots='4'/>"
		for c in "$@"; do echo "    $c"; done
		echo "  </devices>"
		echo "</domain>"
	} > "$X.new" && mv "$X.new" "$X"
}
A="<smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='20401'/><address type='ccid' controller='0' slot='0'/></smartcard>"
B="<smartcard mode='host-certificates'><certificate>cert1</certificate><certificate>cert2</certificate><certificate>cert3</certificate><address type='ccid' controller='0' slot='1'/></smartcard>"
C_UNIX="<smartcard mode='passthrough' type='unix'><source mode='bind' path='/tmp/r2.sock'/><address type='ccid' controller='0' slot='2'/></smartcard>"
C_TCP="<smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='20403'/><address type='ccid' controller='0' slot='2'/></smartcard>"
NEWCERTS="<smartcard mode='host-certificates'><certificate>cert2</certificate><certificate>cert1</certificate><certificate>cert3</certificate><address type='ccid' controller='0' slot='3'/></smartcard>"
CTRL1="<smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='20409'/><address type='ccid' controller='1' slot='0'/></smartcard>"

provider() {
	_n=$1
	shift
	"$PROVIDER" "$@" >> "/tmp/provider-$_n.log" 2>&1 &
	eval "PROV_$_n=\$!"
}
provider_stop() {
	eval "_p=\${PROV_$1:-}"
	[ -n "$_p" ] || return 0
	kill "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PROV_$1="
}
slot() { echo ") 00 0$1"; }

# reload DESC WANT-EXIT [REGEX]: `ccidctl reload`, its exit status and output
reload() {
	"$CCIDCTL" reload > /tmp/reload.out 2>&1
	_rc=$?
	sed 's/^/#   /' /tmp/reload.out
	if [ "$_rc" -eq "$2" ] && { [ -z "${3:-}" ] || grep -Eq -- "$3" /tmp/reload.out; }; then
		ok "$1 (exit $_rc)"
	else
		not_ok "$1 (exit $_rc, want $2${3:+, output matching /$3/})"
	fi
}

# session: one pyscard card handle on 0.0, transmitting until /tmp/stop;
# /tmp/session says how many transmits and how many failed, so far
session_start() {
	rm -f /tmp/stop /tmp/session
	/usr/bin/python3 - > /tmp/session.log 2>&1 <<'PY' &
import os, time
from smartcard import scard as S
rv, ctx = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
rdr = [r for r in S.SCardListReaders(ctx, [])[1] if r.endswith(") 00 00")][0]
rv, card, proto = S.SCardConnect(ctx, rdr, S.SCARD_SHARE_SHARED,
                                 S.SCARD_PROTOCOL_T0 | S.SCARD_PROTOCOL_T1)
assert rv == 0, S.SCardGetErrorMessage(rv)
n = bad = 0
last = ""
while not os.path.exists("/tmp/stop"):
    rv, rsp = S.SCardTransmit(card, proto, [0x00, 0xB0, 0x00, 0x00, 0x02])
    n += 1
    if rv != 0 or rsp[-2:] != [0x90, 0x00]:
        bad += 1
        last = "%08X %s" % (rv & 0xFFFFFFFF, S.SCardGetErrorMessage(rv))
    if n % 10 == 0:
        with open("/tmp/session.new", "w") as f:
            f.write("%d %d %s\n" % (n, bad, last))
        os.rename("/tmp/session.new", "/tmp/session")
    time.sleep(0.02)
with open("/tmp/session", "w") as f:
    f.write("%d %d %s\n" % (n, bad, last))
print("transmits %d failed %d %s" % (n, bad, last))
PY
	SESSION=$!
}
session_n() { awk '{ print $1 }' /tmp/session 2>/dev/null || echo 0; }
session_bad() { awk '{ print $2 }' /tmp/session 2>/dev/null || echo 0; }
# session_goes_on DESC: the session has transmitted more since last time
# and nothing failed
LAST_N=0
session_goes_on() {
	wait_for 20 sh -c "[ \$(awk '{ print \$1 }' /tmp/session 2>/dev/null || echo 0) -gt $((LAST_N + 10)) ]"
	_n=$(session_n)
	_b=$(session_bad)
	if [ "$_n" -gt "$LAST_N" ] && [ "$_b" -eq 0 ]; then
		ok "$1: 0.0's session goes on ($_n transmits, none failed)"
	else
		not_ok "$1: 0.0's session goes on ($_n transmits, $_b failed: $(cut -d' ' -f3- /tmp/session))"
	fi
	LAST_N=$_n
}

check "systemd-udevd starts" start_udevd
pcscd_usb_only || bail "pcscd did not start"
write_xml "$A" "$B"
if ccidctl_start --udc dummy_udc.0 "$X"; then
	ok "ccidctl apply: 0.0 (passthrough) and 0.1 (host-certificates)"
else
	not_ok "ccidctl apply: 0.0 (passthrough) and 0.1 (host-certificates)"
	e2e_dump
	bail "ccidctl did not start"
fi
pcsc_check "pcscd has the reader's four slots" count 4 30
provider a --echo --connect 127.0.0.1:20401
pcsc_check "0.0: the echo provider's card is in" wait "$(slot 0)" present 30 "$ECHOATR"
pcsc_check "0.1: the CAC card is in" wait "$(slot 1)" present 30 "$CACATR"
session_start
session_goes_on "before any reload"

# --- insert ----------------------------------------------------------------
write_xml "$A" "$B" "$C_UNIX"
reload "insert: ccidctl reload with 0.2 added" 0 'reload: 2 cards kept, 0 taken out, 1 started'
provider c --echo --connect unix:/tmp/r2.sock
pcsc_check "insert: 0.2 comes in" wait "$(slot 2)" present 30 "$ECHOATR"
session_goes_on "insert"

# --- replace -----------------------------------------------------------------
write_xml "$A" "$B" "$C_TCP"
reload "replace: 0.2 now on tcp" 0 'card 0\.2: taken out'
check "replace: 0.2's unix provider sees its connection end" \
	wait_for 15 sh -c "! kill -0 $PROV_c 2>/dev/null"
PROV_c=
check "replace: the unix socket is gone" test ! -e /tmp/r2.sock
provider d --echo --connect 127.0.0.1:20403
pcsc_check "replace: 0.2 comes back through tcp" wait "$(slot 2)" present 30 "$ECHOATR"
session_goes_on "replace"

# --- eject (libcacard), then put back --------------------------------------------
write_xml "$A" "$C_TCP"
reload "eject: 0.1 gone from the file" 0 'card 0\.1: taken out'
pcsc_check "eject: 0.1 leaves" wait "$(slot 1)" absent 15
pcsc_check "eject: 0.2 stays" wait "$(slot 2)" present 2 "$ECHOATR"
session_goes_on "eject"
write_xml "$A" "$B" "$C_TCP"
reload "put back: 0.1 with the certificates libcacard knows" 0 'card 0\.1: new, started'
pcsc_check "put back: 0.1 comes in again" wait "$(slot 1)" present 30 "$CACATR"
timeout 120 pkcs15-tool --reader 1 --list-certificates > /tmp/l1 2>&1
check "put back: 0.1 is the CAC card again (3 certificates)" \
	test "$(grep -c '^X.509 Certificate' /tmp/l1)" -eq 3
session_goes_on "put back"

# --- files that change nothing ------------------------------------------------------
cp "$X" /tmp/good.xml
printf '<domain>\n  <devices>\n    <smartcard mode=\n' > "$X"
reload "a file that does not parse: nothing changes" 1 'reload: not applied, nothing changed'
check "... and ccidctl reload says where the file is wrong" grep -Eq '^/tmp/cards.xml:[0-9]+: ' /tmp/reload.out
write_xml "$A" "$B" "$C_TCP" "$NEWCERTS"
reload "a host-certificates card with certificates libcacard was not started with: nothing changes" 1 \
	'libcacard makes its emulated cards once per process'
write_xml "$A" "$B" "$C_TCP" "$CTRL1"
reload "a card on a reader the gadget does not have: nothing changes" 1 \
	'controller 1 is not a reader of this ccidctl'
for s in 0 1 2; do
	pcsc_check "... slot 0.$s kept its card through them" wait "$(slot $s)" present 2
done
session_goes_on "refused reloads"
check "ccidctl's log says why and that nothing changed" \
	sh -c "[ \$(grep -c 'reload: not applied, nothing changed' $CCIDCTL_LOG) -eq 3 ]"

# --- SIGHUP ejects 0.2 ------------------------------------------------------------------
write_xml "$A" "$B"
kill -HUP "$CCIDCTL_PID"
pcsc_check "SIGHUP: the file without 0.2: 0.2 leaves" wait "$(slot 2)" absent 20
check "SIGHUP: ccidctl goes on" kill -0 "$CCIDCTL_PID"
session_goes_on "SIGHUP"

touch /tmp/stop
wait "$SESSION"
sed 's/^/#   /' /tmp/session.log
check "the session on 0.0 held one card handle through every reload: no transmit failed, no reset" \
	sh -c "grep -q '^transmits [0-9]* failed 0' /tmp/session.log"
check "0.0 was inserted once" \
	sh -c "[ \$(grep -c 'card 0\.0: inserted' $CCIDCTL_LOG) -eq 1 ]"
check "0.0's provider connected once" \
	sh -c "[ \$(grep -c 'card 0\.0: provider connected' $CCIDCTL_LOG) -eq 1 ]"

ccidctl_stop
rc=$?
check "ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
for p in a d; do provider_stop $p; done
stop_pcscd
check "systemd-udevd stops" stop_udevd
e2e_dump
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# Guest side of ccidctl-vpcd.t: mode passthrough with
# <ccid:wire protocol='vpcd'/>, against vsmartcard's own vicc (Debian
# vsmartcard-vpicc, `vicc -t iso7816`) as the card, compared with
# vsmartcard's own reader driver vpcd (Debian vsmartcard-vpcd, a pcscd
# driver listening on port 35963) as the reference path.
#
# 1. Reference: pcscd with the system's reader.conf.d (vpcd), a fresh vicc
#    connects to it; an APDU script through pyscard gives the ATR and the
#    responses.
# 2. ccidctl binds 127.0.0.1:35963 (tests/vm/xml/vpcd-bind.xml) and serves
#    a gadget that exists before it (gadget_up); a fresh vicc connects;
#    the same script through pcscd + libccid + the gadget gives the very
#    same ATR and responses. vicc stops: the card leaves the host.
#    SIGTERM: exit 0, the gadget stays bound with its slot empty.
# 3. vicc --reversed listens, ccidctl connects (vpcd-connect.xml, with
#    reconnect, `apply --udc dummy_udc.0`: the gadget bound there is used):
#    the same ATR and responses again; vicc stops: the card
#    leaves; a new vicc: ccidctl reconnects and the card is back.
#    SIGTERM: the card leaves, the gadget stays as it was.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

ensure_configfs || bail "configfs not mounted"
need_tool "$CCIDCTL" pcscd lsusb timeout /usr/bin/python3
need_vicc
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"
VPCD_DRV=$(grep -ls 'libifdvpcd' /etc/reader.conf.d/* 2>/dev/null | head -n 1)
[ -n "$VPCD_DRV" ] || bail "vsmartcard's vpcd is not configured for pcscd (Debian vsmartcard-vpcd)"
grep -q '0x8C7B' "$VPCD_DRV" || bail "$VPCD_DRV: vpcd does not listen on port 35963 (0x8C7B)"

# The APDU script (vicc's ISO 7816 card: file system, PIN, challenge)
big=$(/usr/bin/python3 -c 'print(bytes(range(200)).hex())')
cat > /tmp/iso7816.apdu <<EOF
00A4000C023F00			# SELECT MF, no response data
00A4000C022F00			# SELECT EF.DIR: not found
00A4040C07A0000002471001	# SELECT by DF name: not found
00B0000010			# READ BINARY without a current EF
00CA010000			# GET DATA
0020000100			# VERIFY, no data
00FF000000			# an unknown instruction
80CA9F7F00			# a proprietary class
00D60000C8$big			# UPDATE BINARY with 200 bytes
00C0000000			# GET RESPONSE
~0084000008			# GET CHALLENGE: 8 random bytes
00A4000C023F00			# SELECT MF again
EOF

# script_through READER OUT: run the script, the comparable part to OUT
script_through() {
	pcsc script "$1" /tmp/iso7816.apdu > "$2.full" 2> "$2.err"
	_rc=$?
	sed 's/^/#   /' "$2.full" "$2.err"
	grep -v '^protocol ' "$2.full" > "$2"
	return $_rc
}

# --- 1. reference: vicc through vsmartcard's vpcd ------------------------------
mkdir -p /run/pcscd
pcscd --foreground --debug > /tmp/pcscd-ref.log 2>&1 &
PCSCD_PID=$!
wait_for 10 test -S /run/pcscd/pcscd.comm || bail "pcscd (with vpcd) did not start"
vicc_start -t iso7816
pcsc_check "reference: vicc's card in vpcd's reader" wait 'Virtual PCD 00 00' present 30
script_through 'Virtual PCD 00 00' /tmp/ref.txt
check "reference: the script ran through vpcd" \
	sh -c "[ -s /tmp/ref.txt ] && [ \$(grep -c -- '->' /tmp/ref.txt) -eq 12 ] && ! grep -q error /tmp/ref.txt"
vicc_stop
stop_pcscd

# --- 2. ccidctl binds, vicc connects ----------------------------------------
gadget_up 0 1 || bail "gadget_up failed"
pcscd_usb_only || bail "pcscd did not start"
pcsc_check "pcscd has the gadget's reader" count 1 20
if ccidctl_start "$E2E_XML/vpcd-bind.xml"; then
	ok "ccidctl apply vpcd-bind.xml: serving on the existing gadget"
else
	not_ok "ccidctl apply vpcd-bind.xml: serving on the existing gadget"
	e2e_dump
	bail "ccidctl did not start"
fi
pcsc_check "no card before vicc connects" wait '#0' absent 3
vicc_start -t iso7816
pcsc_check "vicc connected to ccidctl: its card is in the gadget's slot" wait '#0' present 30
script_through '#0' /tmp/bind.txt
if diff -u /tmp/ref.txt /tmp/bind.txt > /tmp/diff.txt; then
	ok "ATR and all 12 responses identical to vsmartcard's own vpcd path"
else
	not_ok "ATR and all 12 responses identical to vsmartcard's own vpcd path"
	sed 's/^/#   /' /tmp/diff.txt
fi
check "log: the vpcd provider connected" log_has 'card 0\.0: provider connected \(vpcd\)'
vicc_stop
pcsc_check "vicc stopped: the card leaves the host" wait '#0' absent 10
vicc_start -t iso7816
pcsc_check "a new vicc connects: the card is back" wait '#0' present 30
ccidctl_stop
rc=$?
check "ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
pcsc_check "the host sees the card go" wait '#0' absent 10
check "the gadget stays bound (made by gadget_up, not by ccidctl)" \
	sh -c "[ \"\$(cat $CFS/g_0/UDC)\" = dummy_udc.0 ] && [ -d $CFS/g_0/functions/ccid.0 ] && lsusb -d 08e6:4433 >/dev/null"
st=$(slot_state g_0 ccid.0 0)
check "ccidctl status: the slot is empty (${st:-no state})" test "$st" = empty
check "vicc sees ccidctl go" wait_for 10 sh -c "! kill -0 $VICC_PID 2>/dev/null"
vicc_stop

# --- 3. vicc --reversed listens, ccidctl connects -------------------------------
# vicc --reversed prints the address to give a phone, found by connecting a
# UDP socket to 8.8.8.8, and exits if that fails: the VM has no network,
# so give it a default route (nothing is ever sent on it).
ip route show default | grep -q . || ip route add default dev lo ||
	bail "cannot add the default route vicc --reversed needs"
vicc_start -t iso7816 --reversed
sleep 1
# --udc names the UDC the existing gadget is bound to: ccidctl uses it
if ccidctl_start --udc dummy_udc.0 "$E2E_XML/vpcd-connect.xml"; then
	ok "ccidctl apply --udc dummy_udc.0 vpcd-connect.xml: serving on the gadget bound there"
else
	not_ok "ccidctl apply --udc dummy_udc.0 vpcd-connect.xml: serving on the gadget bound there"
fi
check "it created no gadget of its own" test ! -e "$CFS/ccidctl-dummy_udc.0"
pcsc_check "ccidctl connected to vicc --reversed: the card is in the slot" wait '#0' present 30
script_through '#0' /tmp/connect.txt
if diff -u /tmp/ref.txt /tmp/connect.txt > /tmp/diff.txt; then
	ok "connect mode: ATR and responses identical to vpcd's"
else
	not_ok "connect mode: ATR and responses identical to vpcd's"
	sed 's/^/#   /' /tmp/diff.txt
fi
vicc_stop
pcsc_check "vicc --reversed stopped: the card leaves" wait '#0' absent 10
vicc_start -t iso7816 --reversed
pcsc_check "a new vicc --reversed: ccidctl reconnects, the card is back" wait '#0' present 20
script_through '#0' /tmp/connect2.txt
check "the reconnected card answers as before" diff -q /tmp/ref.txt /tmp/connect2.txt
ccidctl_stop
rc=$?
check "ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
pcsc_check "the host sees the card go" wait '#0' absent 10
check "the gadget it found through --udc is still there and bound" \
	sh -c "[ \"\$(cat $CFS/g_0/UDC)\" = dummy_udc.0 ] && [ -d $CFS/g_0/functions/ccid.0 ]"
st=$(slot_state g_0 ccid.0 0)
check "ccidctl status: the slot is empty (${st:-no state})" test "$st" = empty
vicc_stop
stop_pcscd
check "gadget_down" gadget_down 0
e2e_dump
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# identity.sh: what pcscd + libccid do with the reader under each
# candidate VID:PID (docs/identity.md). Not a test: run it by hand,
#   tests/vm/run-vm [--kernel NAME] tests/vm/identity.sh
# For each pair: the gadget (one slot) with ccid-testcard's card in it,
# pcscd --debug; whether libccid drives the reader at all, the escape
# commands it sends, the errors it logs, and whether ccid_pcsc.py's APDU
# set (short and extended) passes. Prints one line per pair.
. "$CCID_REPO/tests/vm/lib.sh"

ensure_configfs || bail "configfs not mounted"
need_tool pcscd lsusb timeout /usr/bin/python3 "$TESTCARD"

for id in 08e6:4433 0e0f:0004 0d46:3010 1d6b:0104; do
	CCID_VID=0x${id%:*}
	CCID_PID=0x${id#*:}
	gadget_up t 1 || bail "gadget_up $id failed"
	DEV=$(ccid_dev t) || bail "no /dev/ccidg for $id"
	: > "$TC_LOG"
	testcard_start "$DEV" || bail "ccid-testcard did not start"
	pcscd_usb_only || bail "pcscd did not start"
	if $PY "$CCID_REPO/tests/vm/ccid_pcsc.py" present 0 "" 10 > /tmp/id.out 2>&1; then
		driven=yes
		$PY "$CCID_REPO/tests/vm/ccid_pcsc.py" apdus 0 > /tmp/id.apdus 2>&1
		napdu_ok=$(grep -c '^ok' /tmp/id.apdus)
		napdu_bad=$(grep -c '^not ok' /tmp/id.apdus)
	else
		driven=no
		napdu_ok=0
		napdu_bad=0
	fi
	stop_pcscd
	testcard_stop
	gadget_down t
	wait_for 10 sh -c "! lsusb -d $id"
	esc=$(grep -c 'PC_to_RDR_Escape\|CmdEscape' /tmp/pcscd.log)
	ff=$(grep -c 'GET_FIRMWARE_FEATURES failed' /tmp/pcscd.log)
	errs=$(grep -c 'ccid_error\|Command not supported\|CCID error' /tmp/pcscd.log)
	echo "# $id: driven by libccid: $driven; escape commands: $esc; GET_FIRMWARE_FEATURES failed: $ff; error lines: $errs; APDU checks: $napdu_ok ok, $napdu_bad not ok"
	grep -E 'ifdhandler|ccid_error|Escape|FIRMWARE|not supported|Unsupported|Extended|short APDU' /tmp/pcscd.log |
		sed 's/^/#     /' | head -n 12
done
echo "1..0 # measurement only"

# SPDX-License-Identifier: GPL-2.0
#
# ccidctl-e2e.sh: helpers of the ccidctl end-to-end tests
# (tests/vm/guest/ccidctl-*.sh), on top of lib.sh. Source both:
#   . "$CCID_REPO/tests/vm/lib.sh"; . "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

CCIDCTL=$CCID_REPO/ctl/ccidctl
E2E_XML=$CCID_REPO/tests/vm/xml
OPENSC_P11=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
SOFTHSM_P11=/usr/lib/softhsm/libsofthsm2.so
PROVIDER=$CCID_BUILD/tests/vscard-provider
CCIDCTL_LOG=/tmp/ccidctl.log

# pcsc ARGS...: tests/vm/ccidctl_pcsc.py (pyscard through pcscd)
pcsc() {
	$PY "$CCID_REPO/tests/vm/ccidctl_pcsc.py" "$@"
}

# pcsc_check DESC ARGS...: a ccidctl_pcsc.py call as one test, its
# output as diagnostics
pcsc_check() {
	_d=$1
	shift
	pcsc "$@" > /tmp/pcsc.out 2>&1
	_rc=$?
	sed 's/^/#   /' /tmp/pcsc.out
	if [ "$_rc" -eq 0 ]; then ok "$_d"; else not_ok "$_d"; fi
	return "$_rc"
}

# ccidctl_start ARGS...: `ccidctl apply --ready-fd 3 ARGS` in the
# background (stderr appended to $CCIDCTL_LOG); returns once it is serving,
# non-zero if it exits first or is not ready in 30 s. Sets CCIDCTL_PID.
ccidctl_start() {
	rm -f /tmp/ccidctl.ready
	echo "=== ccidctl apply $*" >> "$CCIDCTL_LOG"
	"$CCIDCTL" apply --ready-fd 3 "$@" 3> /tmp/ccidctl.ready 2>> "$CCIDCTL_LOG" &
	CCIDCTL_PID=$!
	_i=0
	while [ $_i -lt 300 ]; do
		grep -q '^ready$' /tmp/ccidctl.ready 2>/dev/null && return 0
		kill -0 "$CCIDCTL_PID" 2>/dev/null || { wait "$CCIDCTL_PID"; CCIDCTL_PID=; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# ccidctl_stop [SIGNAL]: signal the daemon (TERM), wait; returns its status
# (124 if it did not exit within 20 s: then it is killed)
ccidctl_stop() {
	[ -n "${CCIDCTL_PID:-}" ] || return 0
	kill -"${1:-TERM}" "$CCIDCTL_PID" 2>/dev/null
	_i=0
	while kill -0 "$CCIDCTL_PID" 2>/dev/null && [ $_i -lt 200 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if kill -0 "$CCIDCTL_PID" 2>/dev/null; then
		kill -KILL "$CCIDCTL_PID"
		wait "$CCIDCTL_PID"
		CCIDCTL_PID=
		return 124
	fi
	wait "$CCIDCTL_PID"
	_rc=$?
	CCIDCTL_PID=
	return "$_rc"
}

# log_has REGEX: the daemon's log has a matching line
log_has() {
	grep -Eq -- "$1" "$CCIDCTL_LOG"
}

# status_json PYTHON-EXPR: evaluate EXPR on `ccidctl status --json` (as j);
# true if it holds. The JSON must parse.
status_json() {
	"$CCIDCTL" status --json > /tmp/status.json 2>/tmp/status.err || return 1
	/usr/bin/python3 -c '
import json, sys
j = json.load(open("/tmp/status.json"))
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}

# slot_state GADGET FUNCTION SLOT: the state `ccidctl status --json` reports
slot_state() {
	"$CCIDCTL" status --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
for f in j["functions"]:
    if f["gadget"] == sys.argv[1] and f["function"] == sys.argv[2]:
        print(f["slots"][int(sys.argv[3])]["state"])' "$1" "$2" "$3"
}

# vicc_start ARGS...: vsmartcard's vicc (Debian vsmartcard-vpicc), through
# tests/vm/vicc (which bridges Debian bookworm's packaging faults), in the
# background, logging to /tmp/vicc.log; sets VICC_PID.
vicc_start() {
	PYTHONUNBUFFERED=1 "$CCID_REPO/tests/vm/vicc" "$@" >> /tmp/vicc.log 2>&1 &
	VICC_PID=$!
}

vicc_stop() {
	[ -n "${VICC_PID:-}" ] || return 0
	kill "$VICC_PID" 2>/dev/null
	wait "$VICC_PID" 2>/dev/null
	VICC_PID=
	return 0
}

# need_vicc: vicc and what it imports are there (a clear failure if not)
need_vicc() {
	need_tool /usr/bin/vicc "$CCID_REPO/tests/vm/vicc"
	[ -d /usr/lib/python3/site-packages/virtualsmartcard/virtualsmartcard ] ||
	/usr/bin/python3 -c 'import virtualsmartcard' 2>/dev/null ||
		bail "vicc's library is missing (Debian python3-virtualsmartcard)"
	/usr/bin/python3 -c 'import Cryptodome.Cipher.DES3, Cryptodome.Hash.SHA' 2>/dev/null ||
		bail "vicc needs PyCryptodome (Debian python3-pycryptodome)"
}

# e2e_dump: on failure, the logs that explain it
e2e_dump() {
	[ "$tap_failed" -eq 0 ] && return 0
	diag "ccidctl log:"
	show_log "$CCIDCTL_LOG"
	for f in /tmp/provider*.log /tmp/vicc.log; do
		[ -r "$f" ] || continue
		diag "$f (tail):"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
	diag "pcscd log (tail):"
	tail -n 60 /tmp/pcscd.log 2>/dev/null | sed 's/^/#   /'
	diag "kernel log (tail):"
	dmesg | tail -n 30 | sed 's/^/#   /'
}

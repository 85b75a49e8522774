#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccidctl's command line, on this machine (no VM, no module): --help and
# --version, usage errors (exit 2), `validate` on the end-to-end tests' XML
# files and the shipped example (exit 0) and on broken files (exit 1, with
# FILE:LINE: and the reason on stderr), `apply` refusing an invalid file
# before it touches anything, and the options every subcommand documents.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
C=$top/ctl/ccidctl
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

if [ ! -x "$C" ]; then
	echo "1..1"
	echo "not ok 1 - ctl/ccidctl is not built (make ctl/ccidctl)"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run ARGS...: sets rc, out (stdout), err (stderr)
run() {
	"$C" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect DESC RC [STDOUT-REGEX [STDERR-REGEX]] -- ARGS...
expect() {
	local desc=$1 want=$2 ore='' ere=''
	shift 2
	if [ "$1" != -- ]; then ore=$1; shift; fi
	if [ "$1" != -- ]; then ere=$1; shift; fi
	shift
	run "$@"
	local bad=
	[ "$rc" -eq "$want" ] || bad="exit $rc, want $want"
	if [ -n "$ore" ] && ! printf '%s\n' "$out" | grep -Eq -- "$ore"; then
		bad="${bad:+$bad; }stdout does not match /$ore/"
	fi
	if [ -n "$ere" ] && ! printf '%s\n' "$err" | grep -Eq -- "$ere"; then
		bad="${bad:+$bad; }stderr does not match /$ere/"
	fi
	if [ -z "$bad" ]; then
		ok "$desc"
	else
		not_ok "$desc: $bad"
		diag "ccidctl $*" "stdout:" "$out" "stderr:" "$err"
	fi
}

# --- help, version, usage errors ---------------------------------------
expect "--help: exit 0, lists the commands" 0 \
	'validate FILE' -- --help
run --help
for w in 'apply FILE' 'gadget up\|down' 'status'; do
	if printf '%s\n' "$out" | grep -q "$w"; then ok "--help mentions $w"; else not_ok "--help mentions $w"; fi
done
expect "--version: exit 0, 'ccidctl VERSION'" 0 '^ccidctl [0-9]' -- --version
expect "no command: exit 2, usage on stderr" 2 '' 'Usage: ccidctl' -- 
expect "unknown command: exit 2" 2 '' "unknown command 'frobnicate'" -- frobnicate
expect "validate without FILE: exit 2" 2 '' 'expected one FILE' -- validate
expect "validate with two FILEs: exit 2" 2 '' 'expected one FILE' -- validate a.xml b.xml
expect "validate --bogus: exit 2" 2 '' 'unrecognized option' -- validate --bogus x.xml
expect "validate --help: exit 0" 0 'Usage: ccidctl validate' -- validate --help
expect "apply without FILE: exit 2" 2 '' 'expected one FILE' -- apply
expect "apply --vid zz: exit 2" 2 '' '--vid takes a 16-bit hex number' -- apply --vid zz x.xml
expect "apply --pid 12345: exit 2 (more than 16 bits)" 2 '' '--pid takes a 16-bit hex number' -- apply --pid 12345 x.xml
expect "apply --ready-fd abc: exit 2" 2 '' '--ready-fd takes a file descriptor number' -- apply --ready-fd abc x.xml
expect "gadget without a verb: exit 2" 2 '' 'Usage: ccidctl gadget' -- gadget
expect "gadget up without --udc: exit 2" 2 '' 'Usage: ccidctl gadget' -- gadget up x.xml
expect "status --bogus: exit 2" 2 '' 'unknown argument --bogus' -- status --bogus
expect "status --help: exit 0, mentions --json" 0 '--json' -- status --help
expect "gadget --help: exit 0" 0 'gadget up --udc UDC' -- gadget --help
run apply --help
if [ "$rc" -eq 0 ]; then ok "apply --help: exit 0"; else not_ok "apply --help: exit $rc"; fi
for o in --udc --vid --pid --host-db --ready-fd --schema --verbose --help; do
	if printf '%s\n' "$out" | grep -q -- "$o"; then ok "apply --help documents $o"; else not_ok "apply --help documents $o"; fi
done
# the man page documents the same options and status --json
for o in udc vid pid host\\\\-db ready\\\\-fd schema verbose json; do
	if grep -q -- "\\\\-\\\\-$o" docs/ccidctl.8; then ok "ccidctl.8 documents --${o//\\\\/}"; else not_ok "ccidctl.8 documents --${o//\\\\/}"; fi
done

# --- validate: good files ----------------------------------------------
for f in tests/vm/xml/*.xml docs/examples/demo.xml; do
	expect "validate $f: exit 0" 0 "^$f: valid: [0-9]+ controllers?, [0-9]+ smartcards?" -- validate "$f"
done
expect "validate --quiet: exit 0, prints nothing" 0 '' -- validate --quiet docs/examples/demo.xml
[ -z "$out$err" ] && ok "validate --quiet is silent" || not_ok "validate --quiet is silent (printed: $out$err)"
run validate tests/vm/xml/vscard-multi.xml
if printf '%s\n' "$out" | grep -q 'controller 0: 2 slots, 2 smartcards' &&
   printf '%s\n' "$out" | grep -q 'controller 1: 1 slot, 1 smartcard' &&
   printf '%s\n' "$out" | grep -q 'tcp connect host=127.0.0.1 service=20002 protocol=raw reconnect=1s' &&
   printf '%s\n' "$out" | grep -q 'unix bind path=/tmp/ccidctl-e2e-vscard.sock'; then
	ok "validate prints the resolved readers, slots and chardevs"
else
	not_ok "validate prints the resolved readers, slots and chardevs"
	diag "$out"
fi
run validate tests/vm/xml/vpcd-connect.xml
if printf '%s\n' "$out" | grep -q 'wire protocol: vpcd' &&
   printf '%s\n' "$out" | grep -q 'controller 0: 1 slot'; then
	ok "a lone <smartcard> with <ccid:wire protocol='vpcd'/>: vpcd, controller 0 implied"
else
	not_ok "a lone <smartcard> with <ccid:wire protocol='vpcd'/>: vpcd, controller 0 implied"
	diag "$out"
fi
run validate tests/vm/xml/host-certificates.xml
if printf '%s\n' "$out" | grep -q 'database: /etc/pki/nssdb (default)'; then
	ok "host-certificates without <database>: /etc/pki/nssdb"
else
	not_ok "host-certificates without <database>: /etc/pki/nssdb"
	diag "$out"
fi

# --- validate: broken files --------------------------------------------
bad() {	# bad NAME STDERR-REGEX CONTENT
	printf '%s\n' "$3" > "$tmp/$1.xml"
	expect "validate rejects $1: exit 1, FILE:LINE: reason" 1 '' "^$tmp/$1.xml:[0-9]+: .*$2" -- validate "$tmp/$1.xml"
}
bad two-certificates "needs exactly three <certificate>, found 2" \
"<smartcard mode='host-certificates'>
  <certificate>cert1</certificate>
  <certificate>cert2</certificate>
</smartcard>"
bad spicevmc "type='spicevmc' is not supported" \
"<devices>
  <smartcard mode='passthrough' type='spicevmc'/>
</devices>"
bad same-slot "slot" \
"<devices>
  <smartcard mode='host'><address type='ccid' controller='0' slot='1'/></smartcard>
  <smartcard mode='host'><address type='ccid' controller='0' slot='1'/></smartcard>
</devices>"
bad slot-16 "slot" \
"<smartcard mode='host'><address type='ccid' controller='0' slot='16'/></smartcard>"
bad unknown-attribute "schema" \
"<smartcard mode='passthrough' type='tcp'>
  <source mode='bind' host='127.0.0.1' service='1' colour='red'/>
</smartcard>"
bad malformed "" \
"<smartcard mode='host'"
bad bad-wire "" \
"<smartcard mode='passthrough' type='tcp' xmlns:ccid='http://ccid-gadget.invalid/xmlns/ccidctl/1'>
  <source mode='bind' host='127.0.0.1' service='1'/>
  <ccid:wire protocol='pcsc'/>
</smartcard>"
bad entity "DOCTYPE" \
"<!DOCTYPE smartcard [ <!ENTITY x 'host'> ]>
<smartcard mode='&x;'/>"
expect "validate a missing file: exit 1" 1 '' 'cannot open' -- validate "$tmp/no-such.xml"

# apply refuses an invalid file before touching configfs or devices
printf '%s\n' "<smartcard mode='host-certificates'><certificate>a</certificate></smartcard>" > "$tmp/apply-bad.xml"
expect "apply on an invalid file: exit 1, the reason, nothing served" 1 '' \
	"apply-bad.xml:1: .*needs exactly three <certificate>, found 1" -- apply --udc none.0 "$tmp/apply-bad.xml"
if printf '%s\n' "$err" | grep -q 'serving'; then not_ok "apply did not start serving"; else ok "apply did not start serving"; fi

echo "1..$n"
[ "$failed" -eq 0 ]

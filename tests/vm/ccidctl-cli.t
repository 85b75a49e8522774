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
C=${CCIDCTL:-$top/ctl/ccidctl}
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
expect "status --bogus: exit 2 (getopt)" 2 '' "unrecognized option '--bogus'" -- status --bogus
expect "status extra: exit 2" 2 '' "unexpected argument 'extra'" -- status extra
expect "reload --help: exit 0, mentions --control" 0 '--control' -- reload --help
expect "reload with an argument: exit 2" 2 '' 're-reads the FILE it was started with' -- reload x.xml
expect "reload without a daemon: exit 1, says so" 1 '' 'no ccidctl daemon answers on' -- reload --control "$tmp/no-daemon.sock"
expect "status --help: exit 0, mentions --json" 0 '--json' -- status --help
expect "gadget --help: exit 0" 0 'gadget up --udc UDC' -- gadget --help
run apply --help
if [ "$rc" -eq 0 ]; then ok "apply --help: exit 0"; else not_ok "apply --help: exit $rc"; fi
for o in --udc --vid --pid --host-db --tls-dir --tls-verify --ready-fd --apdu-timeout --open-timeout --control --schema --verbose --help; do
	if printf '%s\n' "$out" | grep -q -- "$o"; then ok "apply --help documents $o"; else not_ok "apply --help documents $o"; fi
done
# the man page documents the same options and status --json
for o in udc vid pid host\\\\-db tls\\\\-dir tls\\\\-verify ready\\\\-fd apdu\\\\-timeout open\\\\-timeout control offline schema verbose json; do
	if grep -q -- "\\\\-\\\\-$o" docs/ccidctl.8; then ok "ccidctl.8 documents --${o//\\\\/}"; else not_ok "ccidctl.8 documents --${o//\\\\/}"; fi
done

# --- validate: good files ----------------------------------------------
# --offline: these name /etc/pki/nssdb, which this machine need not have
# (*-bad*.xml are libvirt.t's domains that the hook must refuse)
for f in tests/vm/xml/*.xml docs/examples/demo.xml; do
	case $f in *-bad*.xml) continue ;; esac
	expect "validate --offline $f: exit 0" 0 "^$f: valid: [0-9]+ controllers?, [0-9]+ smartcards?" -- validate --offline "$f"
done
for f in tests/vm/xml/*-bad*.xml; do
	expect "validate --offline $f: exit 1, names the line" 1 '' "^$f:[0-9]+: " -- validate --offline "$f"
done
expect "validate --quiet: exit 0, prints nothing" 0 '' -- validate --offline --quiet docs/examples/demo.xml
[ -z "$out$err" ] && ok "validate --quiet is silent" || not_ok "validate --quiet is silent (printed: $out$err)"
run validate --offline tests/vm/xml/vscard-multi.xml
if printf '%s\n' "$out" | grep -q 'controller 0: 2 slots, 2 smartcards' &&
   printf '%s\n' "$out" | grep -q 'controller 1: 1 slot, 1 smartcard' &&
   printf '%s\n' "$out" | grep -q 'tcp connect host=127.0.0.1 service=20002 protocol=raw reconnect=1s' &&
   printf '%s\n' "$out" | grep -q 'unix bind path=/tmp/ccidctl-e2e-vscard.sock'; then
	ok "validate prints the resolved readers, slots and chardevs"
else
	not_ok "validate prints the resolved readers, slots and chardevs"
	diag "$out"
fi
run validate --offline tests/vm/xml/vpcd-connect.xml
if printf '%s\n' "$out" | grep -q 'wire protocol: vpcd' &&
   printf '%s\n' "$out" | grep -q 'controller 0: 1 slot'; then
	ok "a lone <smartcard> with <ccid:wire protocol='vpcd'/>: vpcd, controller 0 implied"
else
	not_ok "a lone <smartcard> with <ccid:wire protocol='vpcd'/>: vpcd, controller 0 implied"
	diag "$out"
fi
run validate --offline tests/vm/xml/host-certificates.xml
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

# --- validate predicts apply ---------------------------------------------
# both run the same pipeline: the same file gets the same refusal from
# both, and apply refuses it before it touches configfs or a device
mkdir -p "$tmp/db1" "$tmp/db2"
: > "$tmp/db1/cert9.db"
: > "$tmp/db2/cert9.db"
same() {	# same NAME STDERR-REGEX CONTENT
	printf '%s\n' "$3" > "$tmp/$1.xml"
	expect "validate refuses $1" 1 '' "$2" -- validate "$tmp/$1.xml"
	expect "apply refuses $1 with the same message, before serving" 1 '' "$2" -- \
		apply --udc none.0 --control none "$tmp/$1.xml"
	if printf '%s\n' "$err" | grep -q 'serving\|cannot create\|configfs'; then
		not_ok "apply on $1 touched nothing"
		diag "$err"
	else
		ok "apply on $1 touched nothing"
	fi
}
same two-databases "different NSS databases" \
"<devices>
  <smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>$tmp/db1</database></smartcard>
  <smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>$tmp/db2</database></smartcard>
</devices>"
ctrls="<devices>"
for i in $(seq 0 16); do ctrls="$ctrls
  <controller type='ccid' index='$i'/>"; done
same seventeen-controllers "serves at most 16" "$ctrls
</devices>"
same one-unix-path "both listen on $tmp/c.sock" \
"<devices>
  <smartcard mode='passthrough' type='unix'><source mode='bind' path='$tmp/c.sock'/></smartcard>
  <smartcard mode='passthrough' type='unix'><source mode='bind' path='$tmp/c.sock'/></smartcard>
</devices>"
same missing-database "NSS database $tmp/nodb: No such file" \
"<smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>$tmp/nodb</database></smartcard>"
same tls-without-credentials "tls='yes': .*(No such file|ca-cert.pem)" \
"<smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='2001' tls='yes'/></smartcard>"
expect "validate --tls-dir: the directory given is the one checked" 1 '' "TLS credentials directory $tmp/notls" -- \
	validate --tls-dir "$tmp/notls" "$tmp/tls-without-credentials.xml"
expect "apply --tls-dir: the same" 1 '' "TLS credentials directory $tmp/notls" -- \
	apply --tls-dir "$tmp/notls" --udc none.0 --control none "$tmp/tls-without-credentials.xml"
expect "validate --offline leaves the system out" 0 'tls=yes' -- validate --offline "$tmp/tls-without-credentials.xml"
printf '%s\n' "<smartcard mode='passthrough' type='tcp'><source mode='bind' host='0.0.0.0' service='2001'/></smartcard>" > "$tmp/wildcard.xml"
expect "host='0.0.0.0' without TLS: valid, with a warning on stderr" 0 'valid' \
	'wildcard.xml:1: warning: card 0.0 listens on every address \(0.0.0.0\) without TLS' -- validate "$tmp/wildcard.xml"
printf 'precious\n' > "$tmp/c.sock"
printf '%s\n' "<smartcard mode='passthrough' type='unix'><source mode='bind' path='$tmp/c.sock'/></smartcard>" > "$tmp/file-at-path.xml"
expect "a regular file at a unix bind path: refused" 1 '' "c.sock exists and is not a socket" -- validate "$tmp/file-at-path.xml"
if [ "$(cat "$tmp/c.sock")" = precious ]; then ok "... and left alone"; else not_ok "... and left alone"; fi

# --- status --json: valid JSON, real numbers, any gadget name ----------
# a fake configfs: names with quotes, backslashes, control characters and
# bytes that are not UTF-8; attributes as the kernel prints them
need_py=/usr/bin/python3
cfs=$tmp/configfs
g=$(printf 'g"q\\b\001\377')
mkdir -p "$cfs/$g/functions/ccid.0" "$cfs/plain/functions/ccid.usb0" "$cfs/plain/functions/hid.x"
printf '2\n' > "$cfs/$g/functions/ccid.0/nslots"
printf '2\n' > "$cfs/$g/functions/ccid.0/busy_slots"
printf '3\n' > "$cfs/$g/functions/ccid.0/protocols"
printf '0x000400fe\n' > "$cfs/$g/functions/ccid.0/features"
printf '65554\n' > "$cfs/$g/functions/ccid.0/max_msg_len"
printf '1\n' > "$cfs/plain/functions/ccid.usb0/nslots"
CCIDCTL_CONFIGFS=$cfs "$C" status --json > "$tmp/status.json" 2> "$tmp/status.err"
rc=$?
if [ $rc -eq 0 ] && [ -x "$need_py" ] &&
   "$need_py" -m json.tool "$tmp/status.json" > /dev/null 2> "$tmp/json.err"; then
	ok "status --json with odd gadget names parses (python3 -m json.tool)"
else
	not_ok "status --json with odd gadget names parses (python3 -m json.tool; exit $rc)"
	diag "$(cat "$tmp/status.json")" "$(cat "$tmp/json.err" 2>/dev/null)"
fi
if command -v jq > /dev/null; then
	if jq -e '.functions | length == 2' "$tmp/status.json" > /dev/null 2>&1; then
		ok "... and jq reads it: two ccid functions"
	else
		not_ok "... and jq reads it: two ccid functions"
	fi
else
	not_ok "jq is missing (Debian jq): cannot cross-check status --json"
fi
if "$need_py" - "$tmp/status.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
f = {x["function"]: x for x in j["functions"]}
a = f["ccid.0"]
assert a["gadget"] == 'g"q\\b\x01\ufffd', repr(a["gadget"])
for k, v in (("nslots", 2), ("busy_slots", 2), ("protocols", 3),
             ("features", 0x400fe), ("max_msg_len", 65554)):
    assert a[k] == v and type(a[k]) is int, (k, a[k])
assert a["dev"] is None
assert f["ccid.usb0"]["nslots"] == 1
PY
then
	ok "status --json: names round-trip escaped, attributes are numbers, an unbound dev is null"
else
	not_ok "status --json: names round-trip escaped, attributes are numbers, an unbound dev is null"
	diag "$(cat "$tmp/status.json")"
fi
mkdir -p "$tmp/empty-cfs"
CCIDCTL_CONFIGFS=$tmp/empty-cfs "$C" status --json > "$tmp/empty.json" 2>&1
if "$need_py" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j == {"functions": []} else 1)' "$tmp/empty.json"; then
	ok "status --json without any function: {\"functions\": []}"
else
	not_ok "status --json without any function: {\"functions\": []}"
	diag "$(cat "$tmp/empty.json")"
fi

# apply refuses an invalid file before touching configfs or devices
printf '%s\n' "<smartcard mode='host-certificates'><certificate>a</certificate></smartcard>" > "$tmp/apply-bad.xml"
expect "apply on an invalid file: exit 1, the reason, nothing served" 1 '' \
	"apply-bad.xml:1: .*needs exactly three <certificate>, found 1" -- apply --udc none.0 --control none "$tmp/apply-bad.xml"
if printf '%s\n' "$err" | grep -q 'serving'; then not_ok "apply did not start serving"; else ok "apply did not start serving"; fi

echo "1..$n"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the VM runner: without it a green VM run proves nothing.
# A module that WARNs must fail the run; one that behaves must pass; the
# script's exit status and a time limit must come through.
here=$(cd "$(dirname "$0")" && pwd)
st=$here/selftest
echo "1..5"
n=0
t() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

for m in good warn; do
	if [ ! -r "$st/ccid_selftest_$m.ko" ]; then
		echo "Bail out! $st/ccid_selftest_$m.ko is not built (make vm-selftest-modules)"
		exit 1
	fi
done

out=$("$here/run-vm" --no-module --timeout 120 --insmod "$st/ccid_selftest_good.ko" \
	"$here/guest/runner-ok.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
echo "$out" | grep -q 'runner-selftest: guest ran'
t $(( rc != 0 || $? != 0 )) "a module that behaves: the run passes and the output streams back"

out=$("$here/run-vm" --no-module --timeout 120 --insmod "$st/ccid_selftest_warn.ko" \
	"$here/guest/runner-plain.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
t $(( rc == 0 )) "a module that WARNs: the run fails (exit $rc)"
echo "$out" | grep -q 'ccid_selftest_warn: deliberate warning'
t $? "the failure names the warning from the guest kernel log"

# runner-ok.sh expects the good module; load it and exit 3
out=$("$here/run-vm" --no-module --timeout 120 --insmod "$st/ccid_selftest_good.ko" \
	"$here/guest/runner-ok.sh" 3 2>&1)
rc=$?
t $(( rc != 3 )) "the script's exit status comes back (3, got $rc)"

out=$("$here/run-vm" --no-module --timeout 25 "$here/guest/runner-sleep.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
echo "$out" | grep -q 'time limit'
t $(( rc == 0 || $? != 0 )) "a script that hangs: the time limit fails the run"

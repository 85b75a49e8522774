#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the VM runner: without it a green VM run proves nothing.
# A module that WARNs must fail the run; one that behaves must pass; the
# script's exit status and a time limit must come through; a problem
# while the kernel boots gets one more boot, not two. On the
# sanitizer kernel a module that leaks and one that takes two locks in
# both orders must fail the run too. The kernel is CCID_KERNEL's (see
# tests/vm/kernels), the modules those built for it in build/kmod/.
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -n "${CCID_KERNEL:-}" ]; then
	kinfo=$("$here/kernels" resolve "$CCID_KERNEL") || {
		echo "Bail out! no kernel $CCID_KERNEL"
		exit 1
	}
	eval "$kinfo"
	st=$repo/build/kmod/$K_NAME/selftest
	hint="make modules-matrix"
else
	K_DEBUG=0
	st=$repo/build/kmod/default/selftest
	hint="tests/vm/build-module of the default kernel"
	echo "Bail out! CCID_KERNEL is not set (make check-vm sets it)"
	exit 1
fi
echo "1..10"
n=0
t() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

for m in good warn leak lockorder; do
	if [ ! -r "$st/ccid_selftest_$m.ko" ]; then
		echo "Bail out! $st/ccid_selftest_$m.ko is not built ($hint)"
		exit 1
	fi
done

out=$("$here/run-vm" --no-module --timeout 240 --insmod "$st/ccid_selftest_good.ko" \
	"$here/guest/runner-ok.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
echo "$out" | grep -q 'runner-selftest: guest ran'
t $(( rc != 0 || $? != 0 )) "a module that behaves: the run passes and the output streams back"

out=$("$here/run-vm" --no-module --timeout 240 --insmod "$st/ccid_selftest_warn.ko" \
	"$here/guest/runner-plain.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
t $(( rc == 0 )) "a module that WARNs: the run fails (exit $rc)"
echo "$out" | grep -q 'ccid_selftest_warn: deliberate warning'
t $? "the failure names the warning from the guest kernel log"
# The script printed its plan first; run-vm's verdict comes after the
# script's tests and the plan must count it, or prove sees a parse error
# instead of a failed test.
tap=$(printf '%s\n' "$out" | grep -E '^((not )?ok|1\.\.)' | sed 's/ - .*//' | tr '\n' ' ')
[ "$tap" = "ok 1 not ok 1..2 " ]
t $? "the verdict is a test line that the script's plan counts (TAP: $tap)"

# The exit status and the time limit are run-vm's logic, the same on
# every kernel: the sanitizer kernel, where the hanging script alone
# waits out a limit three times as long (150 s with two files at once),
# leaves them to the Debian kernels.
if [ "$K_DEBUG" = 1 ]; then
	t 0 "# SKIP the script's exit status: run-vm's logic, tested on the Debian kernels"
	t 0 "# SKIP a script that hangs: as above (the time limit alone would take $((25 * 3 * ${CCID_VM_JOBS:-1})) s here)"
else
	# runner-ok.sh expects the good module; load it and exit 3
	out=$("$here/run-vm" --no-module --timeout 240 --insmod "$st/ccid_selftest_good.ko" \
		"$here/guest/runner-ok.sh" 3 2>&1)
	rc=$?
	t $(( rc != 3 )) "the script's exit status comes back (3, got $rc)"

	out=$("$here/run-vm" --no-module --timeout 25 "$here/guest/runner-sleep.sh" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/#   /'
	echo "$out" | grep -q 'time limit'
	t $(( rc == 0 || $? != 0 )) "a script that hangs: the time limit fails the run"
fi

# A problem in the kernel log before guest-init starts comes from the
# boot, before anything under test: one more boot, and it is said. That
# is run-vm's logic alone, the same on every kernel: the sanitizer
# kernel leaves it to the Debian kernels too.
if [ "$K_DEBUG" = 1 ]; then
	t 0 "# SKIP a problem while the kernel boots: run-vm's logic, tested on the Debian kernels (a sanitizer-kernel boot costs 90 s)"
	t 0 "# SKIP a problem in two boots in a row: as above"
else
	out=$(CCID_VM_SELFTEST_BOOTFAIL=1 "$here/run-vm" --no-module --timeout 240 \
		"$here/guest/runner-plain.sh" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/#   /'
	echo "$out" | grep -q 'failed while it booted.*booting once more'
	t $(( rc != 0 || $? != 0 )) "a problem while the kernel boots: it boots once more, says so, and the run passes (exit $rc)"
	out=$(CCID_VM_SELFTEST_BOOTFAIL=2 "$here/run-vm" --no-module --timeout 240 \
		"$here/guest/runner-plain.sh" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/#   /'
	echo "$out" | grep -q '^not ok - run-vm: the guest kernel log shows a problem'
	t $(( rc == 0 || $? != 0 )) "a problem in two boots in a row: the run fails (exit $rc)"
fi

if [ "$K_DEBUG" != 1 ]; then
	t 0 "# SKIP a leaking module: kmemleak exists only on the sanitizer kernel, not on $K_NAME"
	t 0 "# SKIP a lock inversion: lockdep exists only on the sanitizer kernel, not on $K_NAME"
	exit 0
fi

out=$("$here/run-vm" --no-module --timeout 240 --insmod "$st/ccid_selftest_leak.ko" \
	"$here/guest/runner-leak.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
echo "$out" | grep -q 'unreferenced object'
t $(( rc == 0 || $? != 0 )) "a module that leaks: kmemleak's report fails the run (exit $rc)"
# which of the two kinds of leak kmemleak saw, from the kept kernel log
klog=$(echo "$out" | sed -n 's/.*(kept in \(.*\)):$/\1/p' | head -n 1)
if [ -n "$klog" ] && [ -r "$klog" ]; then
	echo "# kmemleak reported $(grep -c 'unreferenced object.*size 256' "$klog") of the 16 buffers lost at once," \
		"$(grep -c 'unreferenced object.*size 192' "$klog") of the 16 lost at unload"
fi

out=$("$here/run-vm" --no-module --timeout 240 --insmod "$st/ccid_selftest_lockorder.ko" \
	"$here/guest/runner-plain.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
echo "$out" | grep -q 'possible circular locking'
t $(( rc == 0 || $? != 0 )) "a module that takes two locks in both orders: lockdep's report fails the run (exit $rc)"

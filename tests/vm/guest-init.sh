#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM, on the overlay root (see run-vm). Sets up the
# mounts a test needs, loads the gadget stack and the module, runs the job's
# script with its output on the second serial port, and powers off.
# Debian's programs first: a python3 in /usr/local would not see the
# Debian modules (pyscard, virtualsmartcard) the tests use.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin
export HOME=/root LANG=C.UTF-8 TERM=${TERM:-linux}

# run-vm judges a problem that the kernel logs before the line below on
# its own: it comes from the kernel's boot, before anything under test
# (see run-vm). The runner's self-test (CCID_VM_SELFTEST_BOOTFAIL) plants
# one there.
grep -q 'ccid\.selftest_bootfail=1' /proc/cmdline &&
	echo "WARNING: CPU: 0 PID: 1 at ccid-vm: planted at boot by the runner self-test" > /dev/kmsg
echo "ccid-vm: init starts" > /dev/kmsg

# QEMU runs with -no-reboot, so a reset ends it: sysrq 'b' needs no ACPI
# (the sanitizer kernel has none, it costs seconds of boot under TCG).
poweroff_now() {
	sync
	echo b > /proc/sysrq-trigger
	# Nothing may be exec'd from here on: the 9p root goes away under us,
	# and if PID 1 exits the kernel panics. Spin in the shell until the
	# power is off.
	while :; do :; done
}

job=$(sed -n 's/.*ccid\.job=\([^ ]*\).*/\1/p' /proc/cmdline)
. "$job"
export CCID_REPO CCID_BUILD CCID_KVER CCID_KERNEL CCID_KDEBUG CCID_VM_JOBS CCID_KO

mount -t tmpfs -o mode=0755 tmpfs /run
# A fresh /tmp for the tests. The host's /tmp stays visible at
# /run/ccid-hosttmp, and a repository that lives there (a CI clone, say)
# at its own path too.
mkdir -p /run/ccid-hosttmp
mount --bind /tmp /run/ccid-hosttmp
mount -t tmpfs -o mode=1777 tmpfs /tmp
case "$CCID_REPO" in
/tmp/*)
	mkdir -p "$CCID_REPO"
	mount --bind "/run/ccid-hosttmp/${CCID_REPO#/tmp/}" "$CCID_REPO"
	;;
esac
mkdir -p /dev/pts /dev/shm /run/lock
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname ccid-vm 2>/dev/null
ip link set lo up 2>/dev/null
echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo 1 > /proc/sys/kernel/sysrq

out=/dev/ttyS1
[ "$CCID_SHELL" = 1 ] && out=/dev/ttyS0

# The modules of a kernel that is not installed in /lib/modules (the
# sanitizer kernel lives in its build cache, which CCID_KCACHE may put
# under the host's /tmp)
if [ "${CCID_MODROOT:-/}" != / ] && [ ! -e "/lib/modules/$CCID_KVER" ]; then
	mr=$CCID_MODROOT
	case "$mr" in /tmp/*) mr=/run/ccid-hosttmp/${mr#/tmp/} ;; esac
	mkdir -p /lib/modules
	ln -s "$mr/lib/modules/$CCID_KVER" "/lib/modules/$CCID_KVER"
fi

KMEMLEAK=/sys/kernel/debug/kmemleak

# kmemleak_report: scan for leaks and copy any report into the kernel log,
# where run-vm finds it ("unreferenced object"). An object must be a few
# seconds old before kmemleak reports it, so what the script's last
# seconds leaked is waited for. 7.3's kmemleak reports nothing after the
# first scan that finds an object unreferenced, only from the next one on,
# so two scans come before the first look. A suspicion is confirmed by one
# more scan (a pointer that was only in a register during the others).
# Only objects allocated after setup began count (kmemleak_since).
kmemleak_report() {
	[ -w "$KMEMLEAK" ] || return 0
	sleep 5
	echo scan > "$KMEMLEAK"
	echo scan > "$KMEMLEAK"
	# (a debugfs file has no size: read it to know)
	kmemleak_since < "$KMEMLEAK" > /run/kmemleak.txt
	[ -s /run/kmemleak.txt ] || return 0
	echo scan > "$KMEMLEAK"
	kmemleak_since < "$KMEMLEAK" > /run/kmemleak.txt
	[ -s /run/kmemleak.txt ] || return 0
	echo "ccid-vm: kmemleak found leaks:" > /dev/kmsg
	while IFS= read -r line; do
		echo "kmemleak-report: $line" > /dev/kmsg
	done < /run/kmemleak.txt
}

# What leaked before the test (boot, the initramfs) is not its concern.
# setup notes the kernel's jiffies when it begins (KMEMLEAK_MARK); a
# report's objects are kept only if allocated from then on (each says
# "jiffies N" of its allocation). Where the kernel does not show its
# jiffies, setup falls back to a scan and "clear" (which marks what that
# scan reported as never to be reported again): the same effect, for one
# scan more (8 s on the sanitizer kernel under TCG).
SCHED_DEBUG=/sys/kernel/debug/sched/debug
KMEMLEAK_MARK=0
kmemleak_since() {
	awk -v mark="$KMEMLEAK_MARK" '
	function flush() { if (blk != "" && keep) printf "%s", blk; blk = "" }
	/^unreferenced object/ { flush(); keep = 1 }
	/^  comm ".*jiffies [0-9]+/ {
		j = $0; sub(/.*jiffies /, "", j); sub(/[^0-9].*/, "", j)
		if (j + 0 < mark + 0) keep = 0
	}
	{ blk = blk $0 "\n" }
	END { flush() }'
}

setup() {
	# (see kmemleak_since)
	if [ -w "$KMEMLEAK" ]; then
		KMEMLEAK_MARK=$(sed -n 's/^jiffies *: *\([0-9][0-9]*\)$/\1/p' \
			"$SCHED_DEBUG" 2>/dev/null)
		if [ -z "$KMEMLEAK_MARK" ]; then
			KMEMLEAK_MARK=0
			echo scan > "$KMEMLEAK"
			echo clear > "$KMEMLEAK"
		fi
	fi
	# /sys/kernel/config appears with the configfs module
	modprobe configfs || return 1
	mount -t configfs configfs /sys/kernel/config || return 1
	modprobe libcomposite || return 1
	modprobe dummy_hcd || return 1
	if [ "$CCID_LOAD_MODULE" = 1 ]; then
		insmod "$CCID_KO" || return 1
	fi
	for m in $CCID_EXTRA_MODS; do
		insmod "$m" || return 1
	done
	return 0
}

if ! setup > "$out" 2>&1; then
	echo "guest-init: loading the gadget stack or the module failed" > "$out"
	echo "@@CCID-VM-EXIT 99@@" > "$out"
	poweroff_now
fi

# run-vm --systemd: systemd becomes PID 1 (exec keeps the PID) with the
# mounts and modules above, and runs the script as a unit of its own.
# No default target: the script starts what it needs (udevd, a unit under
# test), and the unit writes the exit line and powers off as below.
if [ "${CCID_SYSTEMD:-0}" = 1 ]; then
	if ! grep -qw cgroup2 /proc/filesystems; then
		# (a kernel built without cgroups)
		echo "guest-init: run-vm --systemd needs cgroups, and kernel $CCID_KVER has none" > "$out"
		echo "@@CCID-VM-EXIT 99@@" > "$out"
		poweroff_now
	fi
	cat > /run/ccid-test.sh <<EOF
#!/bin/sh
export PATH=$PATH HOME=$HOME LANG=$LANG
. "$job"
export CCID_REPO CCID_BUILD CCID_KVER CCID_KERNEL CCID_KDEBUG CCID_VM_JOBS CCID_KO
cd /tmp
sh "\$CCID_SCRIPT" "\$@" > $out 2>&1 < /dev/null
rc=\$?
sleep 1
echo "@@CCID-VM-EXIT \$rc@@" > $out
sync
echo b > /proc/sysrq-trigger
EOF
	mkdir -p /run/systemd/system
	cat > /run/systemd/system/ccid-test.service <<EOF
[Unit]
Description=ccid-gadget VM test (run-vm --systemd)
DefaultDependencies=no
Wants=systemd-journald.socket
After=systemd-journald.socket

[Service]
Type=exec
ExecStart=/bin/sh /run/ccid-test.sh
StandardInput=null
StandardOutput=null
StandardError=null
EOF
	exec /lib/systemd/systemd --unit=ccid-test.service
fi

if [ "$CCID_SHELL" = 1 ]; then
	echo "ccid-vm: repo $CCID_REPO, kernel $CCID_KVER; 'exit' powers off"
	cd "$CCID_REPO" || cd /
	setsid -c /bin/bash -l < /dev/ttyS0 > /dev/ttyS0 2>&1
	kmemleak_report
	poweroff_now
fi

cd /tmp
sh "$CCID_SCRIPT" "$@" > "$out" 2>&1 < /dev/null
rc=$?
# Let the kernel print what the script's end caused (a late WARN), and
# look for leaks on the sanitizer kernel.
sleep 1
kmemleak_report
echo "@@CCID-VM-EXIT $rc@@" > "$out"
poweroff_now

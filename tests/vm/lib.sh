# SPDX-License-Identifier: GPL-2.0
#
# lib.sh: shell helpers for scripts that run inside the test VM (run-vm).
# Source it: . "$CCID_REPO/tests/vm/lib.sh"

CFS=/sys/kernel/config/usb_gadget
CCID_VID=${CCID_VID:-0x08e6}
CCID_PID=${CCID_PID:-0x4433}

# --- TAP -----------------------------------------------------------------
tap_n=0
tap_failed=0

plan() { echo "1..$1"; }

ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}

not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
}

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

diag() { echo "# $*"; }

# done_testing: print the plan if none was given, exit with the result
done_testing() {
	[ "${1:-}" = noplan ] || echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
	exit $?
}

# bail REASON: abort the whole test file
bail() {
	echo "Bail out! $*"
	exit 1
}

# --- gadget set-up -------------------------------------------------------

# gadget_up NAME [NSLOTS] [ATTR=VALUE...]: a gadget with one ccid function
# instance "NAME" (functions/ccid.NAME) bound to dummy_udc.0.
gadget_up() {
	name=$1
	slots=${2:-1}
	shift
	[ $# -gt 0 ] && shift
	g=$CFS/g_$name
	mkdir -p "$g" || return 1
	echo "$CCID_VID" > "$g/idVendor"
	echo "$CCID_PID" > "$g/idProduct"
	echo 0x0200 > "$g/bcdUSB"
	echo 0x0100 > "$g/bcdDevice"
	mkdir -p "$g/strings/0x409"
	echo "ccid-gadget" > "$g/strings/0x409/manufacturer"
	echo "Virtual CCID reader" > "$g/strings/0x409/product"
	echo "0001" > "$g/strings/0x409/serialnumber"
	mkdir -p "$g/functions/ccid.$name" || return 1
	echo "$slots" > "$g/functions/ccid.$name/nslots" || return 1
	for kv in "$@"; do
		echo "${kv#*=}" > "$g/functions/ccid.$name/${kv%%=*}" || return 1
	done
	mkdir -p "$g/configs/c.1/strings/0x409"
	echo "CCID" > "$g/configs/c.1/strings/0x409/configuration"
	echo 100 > "$g/configs/c.1/MaxPower"
	ln -s "$g/functions/ccid.$name" "$g/configs/c.1/" || return 1
	echo "${CCID_UDC:-dummy_udc.0}" > "$g/UDC" || return 1
	udev_settle
}

# gadget_down NAME: unbind and remove what gadget_up made
gadget_down() {
	g=$CFS/g_$1
	[ -d "$g" ] || return 0
	echo "" > "$g/UDC" 2>/dev/null
	rm -f "$g/configs/c.1/ccid.$1"
	rmdir "$g/configs/c.1/strings/0x409" "$g/configs/c.1" 2>/dev/null
	rmdir "$g/functions/ccid.$1" 2>/dev/null
	rmdir "$g/strings/0x409" "$g" 2>/dev/null
	[ ! -d "$g" ]
}

# ccid_dev NAME: the /dev/ccidgN of function instance NAME
ccid_dev() {
	mm=$(cat "$CFS/g_$1/functions/ccid.$1/dev") || return 1
	for d in /dev/ccidg*; do
		[ -c "$d" ] || continue
		if [ "$(stat -c '%t:%T' "$d")" = "$(printf '%x:%x' "${mm%%:*}" "${mm##*:}")" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds
wait_for() {
	t=$1
	shift
	i=0
	while [ "$i" -lt $((t * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# The host side of dummy_hcd enumerates asynchronously; wait for the device.
usb_present() {
	lsusb -d "${CCID_VID#0x}:${CCID_PID#0x}" >/dev/null 2>&1
}

udev_settle() {
	wait_for 10 usb_present
	if command -v udevadm >/dev/null && [ -S /run/udev/control ]; then
		udevadm settle -t 10 2>/dev/null
	fi
	return 0
}

# start_udevd: a udev daemon, so pcscd sees readers arrive and go (hotplug)
start_udevd() {
	[ -S /run/udev/control ] && return 0
	/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1 || return 1
	udevadm trigger --action=add >/dev/null 2>&1
	udevadm settle -t 20 >/dev/null 2>&1
	return 0
}

# start_pcscd: pcscd in the background, logging to /tmp/pcscd.log
start_pcscd() {
	mkdir -p /run/pcscd
	pcscd --foreground --debug > /tmp/pcscd.log 2>&1 &
	PCSCD_PID=$!
	wait_for 10 test -S /run/pcscd/pcscd.comm
}

stop_pcscd() {
	[ -n "${PCSCD_PID:-}" ] && kill "$PCSCD_PID" 2>/dev/null
	[ -n "${PCSCD_PID:-}" ] && wait "$PCSCD_PID" 2>/dev/null
	PCSCD_PID=
	return 0
}

# --- helpers for the end-to-end tests (tests/vm/guest/*.sh) ---------------

# need_tool NAME...: fail the test file clearly when a tool is missing
need_tool() {
	for t in "$@"; do
		if ! command -v "$t" >/dev/null 2>&1 && [ ! -x "$t" ]; then
			bail "missing tool: $t (install it or run 'make' first)"
		fi
	done
}

# ensure_configfs: configfs mounted (it may be a module loaded only with
# libcomposite, after an early mount attempt failed)
ensure_configfs() {
	[ -d "$CFS" ] && return 0
	modprobe configfs 2>/dev/null
	grep -q ' /sys/kernel/config configfs' /proc/mounts ||
		mount -t configfs configfs /sys/kernel/config || return 1
	[ -d "$CFS" ]
}

# loopback_up: a second gadget with the kernel's Loopback function
# (usb_f_ss_lb), VID:PID 0525:a4a0, bound to ${LB_UDC:-dummy_udc.0}.
# bulk_buflen 65536 so that a 64 KiB transfer is one request.
LB_VID=0x0525
LB_PID=0xa4a0
loopback_up() {
	ensure_configfs || return 1
	modprobe usb_f_ss_lb 2>/dev/null
	g=$CFS/g_loop
	mkdir -p "$g" || return 1
	echo "$LB_VID" > "$g/idVendor"
	echo "$LB_PID" > "$g/idProduct"
	echo 0x0200 > "$g/bcdUSB"
	mkdir -p "$g/strings/0x409"
	echo "ccid-gadget tests" > "$g/strings/0x409/manufacturer"
	echo "Loopback floor" > "$g/strings/0x409/product"
	mkdir -p "$g/functions/Loopback.0" || return 1
	echo "${LB_BUFLEN:-65536}" > "$g/functions/Loopback.0/bulk_buflen" || return 1
	echo "${LB_QLEN:-32}" > "$g/functions/Loopback.0/qlen" || return 1
	mkdir -p "$g/configs/c.1/strings/0x409"
	echo "Loopback" > "$g/configs/c.1/strings/0x409/configuration"
	ln -s "$g/functions/Loopback.0" "$g/configs/c.1/" || return 1
	echo "${LB_UDC:-dummy_udc.0}" > "$g/UDC" || return 1
	wait_for 10 lsusb -d "${LB_VID#0x}:${LB_PID#0x}"
}

loopback_down() {
	g=$CFS/g_loop
	[ -d "$g" ] || return 0
	echo "" > "$g/UDC" 2>/dev/null
	rm -f "$g/configs/c.1/Loopback.0"
	rmdir "$g/configs/c.1/strings/0x409" "$g/configs/c.1" 2>/dev/null
	rmdir "$g/functions/Loopback.0" 2>/dev/null
	rmdir "$g/strings/0x409" "$g" 2>/dev/null
	[ ! -d "$g" ]
}

# SPDX-License-Identifier: GPL-2.0
#
# lib.sh: shell helpers for scripts that run inside the test VM (run-vm).
# Source it: . "$CCID_REPO/tests/vm/lib.sh"

CFS=/sys/kernel/config/usb_gadget
CCID_VID=${CCID_VID:-0x08e6}
CCID_PID=${CCID_PID:-0x4433}

# Python for the test helpers (tests/vm/*.py): -S leaves out the site
# module, which runs every .pth file of the machine at each start (half a
# second per helper on the sanitizer kernel); the helpers that need
# pyscard add Debian's dist-packages themselves (pyscard_direct.py).
PY="/usr/bin/python3 -S"

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

# udc_bind GADGETDIR [UDC]: bind a configfs gadget to a UDC (default
# ${CCID_UDC:-dummy_udc.0}). The gadget's driver from an earlier binding
# must be gone first: with DEBUG_KOBJECT_RELEASE (the sanitizer kernel)
# its kobject, and its name in /sys/bus/gadget/drivers, outlive the unbind
# by up to 4 s, and binding again meanwhile fails on a duplicate name.
udc_bind() {
	wait_for 8 test ! -e "/sys/bus/gadget/drivers/configfs-gadget.${1##*/}"
	echo "${2:-${CCID_UDC:-dummy_udc.0}}" > "$1/UDC"
}

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
	# CCID_MAX_SPEED=full-speed: bind at full speed on a high-speed UDC
	[ -n "${CCID_MAX_SPEED:-}" ] && echo "$CCID_MAX_SPEED" > "$g/max_speed"
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
	udc_bind "$g" || return 1
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

# func_dev GADGETDIR FUNCTION: the /dev/ccidgN of a function of a gadget
func_dev() {
	_mm=$(cat "$1/functions/$2/dev") || return 1
	for _d in /dev/ccidg*; do
		[ -c "$_d" ] || continue
		if [ "$(stat -c '%t:%T' "$_d")" = "$(printf '%x:%x' "${_mm%%:*}" "${_mm##*:}")" ]; then
			echo "$_d"
			return 0
		fi
	done
	return 1
}

# ccid_dev NAME: the /dev/ccidgN of function instance NAME
ccid_dev() {
	func_dev "$CFS/g_$1" "ccid.$1"
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds. Time is read
# from /proc/uptime with a builtin: under TCG every exec costs, so a count
# of sleeps would not measure seconds.
uptime_s() {
	read -r _up _ < /proc/uptime
	echo "${_up%.*}"
}

# Every wait_for limit, and the pyscard helpers' waits, stretch by
# CCID_TSCALE: 3 on the sanitizer kernel, which runs about three times
# slower under TCG, 1 elsewhere, times CCID_VM_JOBS, the number of VMs
# sharing the host's cores (run-checks --jobs). They only wait longer for
# what they wait for; what a test measures is asserted on its own.
if [ -z "${CCID_TSCALE:-}" ]; then
	CCID_TSCALE=1
	[ "${CCID_KDEBUG:-0}" = 1 ] && CCID_TSCALE=3
	CCID_TSCALE=$((CCID_TSCALE * ${CCID_VM_JOBS:-1}))
fi
export CCID_TSCALE

wait_for() {
	t=$(($1 * CCID_TSCALE))
	shift
	read -r _up _ < /proc/uptime
	_end=$((${_up%.*} + t))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		read -r _up _ < /proc/uptime
		[ "${_up%.*}" -ge "$_end" ] && return 1
		sleep 0.1
	done
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

# no_mandb: dpkg in this VM does not make man-db rebuild its index (its
# trigger runs mandb over every manual page, minutes under TCG; man
# finds a page without the index). Only this VM's overlay changes.
no_mandb() {
	rm -f /var/lib/man-db/auto-update
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

# pair_up SPEED: one gadget "b" with two functions, ccid.b (one slot) and
# the kernel's Loopback (usb_f_ss_lb, bulk_buflen 65536 so that a 64 KiB
# transfer is one request), each its own interface, at SPEED: the bench's
# floor beside the module (ccid-rawusb pair takes the two in turn)
pair_up() {
	modprobe usb_f_ss_lb 2>/dev/null
	g=$CFS/g_b
	mkdir -p "$g/strings/0x409" "$g/configs/c.1/strings/0x409" || return 1
	echo "$CCID_VID" > "$g/idVendor"
	echo "$CCID_PID" > "$g/idProduct"
	echo 0x0200 > "$g/bcdUSB"
	echo "$1" > "$g/max_speed"
	echo "ccid-gadget" > "$g/strings/0x409/manufacturer"
	echo "ccid + Loopback bench" > "$g/strings/0x409/product"
	echo "0001" > "$g/strings/0x409/serialnumber"
	echo "bench" > "$g/configs/c.1/strings/0x409/configuration"
	mkdir -p "$g/functions/ccid.b" "$g/functions/Loopback.b" || return 1
	echo 1 > "$g/functions/ccid.b/nslots" || return 1
	echo "${LB_BUFLEN:-65536}" > "$g/functions/Loopback.b/bulk_buflen" || return 1
	echo "${LB_QLEN:-32}" > "$g/functions/Loopback.b/qlen" || return 1
	ln -s "$g/functions/ccid.b" "$g/configs/c.1/" || return 1
	ln -s "$g/functions/Loopback.b" "$g/configs/c.1/" || return 1
	udc_bind "$g" || return 1
	udev_settle
}

pair_down() {
	g=$CFS/g_b
	[ -d "$g" ] || return 0
	echo "" > "$g/UDC" 2>/dev/null
	rm -f "$g/configs/c.1/ccid.b" "$g/configs/c.1/Loopback.b"
	rmdir "$g/configs/c.1/strings/0x409" "$g/configs/c.1" 2>/dev/null
	rmdir "$g/functions/ccid.b" "$g/functions/Loopback.b" 2>/dev/null
	rmdir "$g/strings/0x409" "$g" 2>/dev/null
	[ ! -d "$g" ]
}

# tap_desc REST: sets _d to a TAP line's description, from what follows
# "ok " or "not ok ": the number, then spaces, dashes and spaces go
tap_desc() {
	_d=${1#"${1%%[!0-9]*}"}
	_d=${_d#"${_d%%[! ]*}"}
	_d=${_d#"${_d%%[!-]*}"}
	_d=${_d#"${_d%%[! ]*}"}
}

# tap_import FILE: fold the TAP lines of a helper program (numbered or not)
# into this script's count; anything else becomes a diagnostic.
# (Shell expansion only: a sed per line costs a second on the sanitizer
# kernel, and a helper prints dozens.)
tap_import() {
	while IFS= read -r line; do
		case $line in
		"ok "*) tap_desc "${line#ok }"; ok "$_d" ;;
		"not ok "*) tap_desc "${line#not ok }"; not_ok "$_d" ;;
		"1.."*|"TAP version"*) ;;
		"#"*) echo "$line" ;;
		*) echo "#   $line" ;;
		esac
	done < "$1"
}

# run_tap DESC COMMAND...: run a helper that prints TAP, import its lines;
# a non-zero exit without any failed line is a failure of its own.
run_tap() {
	_desc=$1
	shift
	"$@" > /tmp/run_tap.out 2>&1
	_rc=$?
	tap_import /tmp/run_tap.out
	if [ "$_rc" -ne 0 ] && ! grep -q '^not ok' /tmp/run_tap.out; then
		not_ok "$_desc: exited $_rc"
	fi
	if ! grep -q '^ok\|^not ok' /tmp/run_tap.out; then
		[ "$_rc" -eq 0 ] && not_ok "$_desc: printed no test result"
	fi
	return "$_rc"
}

# pcsc_py CHECK ARGS...: a check from ccid_pcsc.py (pyscard through pcscd);
# when it fails, the end of pcscd's debug log follows, for the cause
pcsc_py() {
	run_tap "ccid_pcsc.py $*" $PY "$CCID_REPO/tests/vm/ccid_pcsc.py" "$@"
	_prc=$?
	if grep -q '^not ok' /tmp/run_tap.out && [ -r /tmp/pcscd.log ]; then
		diag "the last 40 lines of pcscd's log:"
		tail -n 40 /tmp/pcscd.log | sed 's/^/#   /'
	fi
	return "$_prc"
}

TESTCARD=$CCID_BUILD/tests/ccid-testcard
RAWUSB=$CCID_BUILD/tests/ccid-rawusb
TC_CTL=/tmp/testcard.ctl
TC_LOG=/tmp/testcard.log

# testcard_start DEV [ARGS...]: ccid-testcard in the background with the
# control FIFO $TC_CTL, logging to $TC_LOG; sets TC_PID; waits until ready
testcard_start() {
	_dev=$1
	shift
	rm -f /tmp/testcard.ready
	"$TESTCARD" -d "$_dev" -c "$TC_CTL" -r /tmp/testcard.ready -S "$@" \
		2>> "$TC_LOG" &
	TC_PID=$!
	wait_for 10 test -e /tmp/testcard.ready
}

# testcard_stop: SIGTERM, wait; returns its exit status
testcard_stop() {
	[ -n "${TC_PID:-}" ] || return 0
	kill -TERM "$TC_PID" 2>/dev/null
	wait "$TC_PID"
	_rc=$?
	TC_PID=
	return "$_rc"
}

# tc_ctl COMMAND...: a line to the test card's control FIFO
tc_ctl() {
	timeout 5 sh -c 'echo "$1" > "$2"' sh "$*" "$TC_CTL"
}

# show_log FILE: a log as TAP diagnostics
show_log() {
	[ -r "$1" ] && sed 's/^/#   /' "$1"
	return 0
}

# pcscd_usb_only: like start_pcscd, but with an empty reader.conf.d so that
# serial/virtual drivers configured on the host (vsmartcard's "Virtual
# PCD" readers) do not appear: the readers are exactly the USB ones.
pcscd_usb_only() {
	mkdir -p /run/pcscd /tmp/pcscd-empty.d
	pcscd --foreground --debug --config /tmp/pcscd-empty.d > /tmp/pcscd.log 2>&1 &
	PCSCD_PID=$!
	wait_for 10 test -S /run/pcscd/pcscd.comm
}

# strip_colors: remove ANSI colour sequences (pcsc_scan prints them)
strip_colors() {
	sed 's/\x1b\[[0-9;]*m//g'
}

# stop_udevd: stop a udevd that start_udevd started (leave none behind)
UDEV_RE='[s]ystemd-udevd|[(]udev-worker[)]'
stop_udevd() {
	[ -S /run/udev/control ] || return 0
	udevadm control --exit >/dev/null 2>&1
	wait_for 10 sh -c "! pgrep -f '$UDEV_RE'" && return 0
	# udevd waits for its workers' events before it exits: say what they
	# wait for, then end them. What SIGKILL does not end is stuck in the
	# kernel, and that fails the check.
	diag "udevd did not exit when asked; its processes and kernel stacks:"
	udev_procs
	[ -e /run/udev/queue ] && diag "  its event queue is not empty"
	kill -KILL $(udev_pids) 2>/dev/null
	wait_for 5 sh -c "! pgrep -f '$UDEV_RE'" && { diag "  SIGKILL ended them"; return 0; }
	diag "  still there after SIGKILL:"
	udev_procs
	return 1
}

# udev_pids: udevd, its workers and what they run
udev_pids() {
	for _p in $(pgrep -f "$UDEV_RE"); do
		echo "$_p"
		pgrep -P "$_p"
	done | sort -un
}

# udev_procs: the same, with their kernel stacks, as diagnostics
udev_procs() {
	for _p in $(udev_pids); do
		diag "  $(ps -o pid=,ppid=,stat=,etime=,wchan:32=,args= -p "$_p")"
		sed 's/^/#     /' "/proc/$_p/stack" 2>/dev/null
	done
}

# gadget_multi NAME INST:NSLOTS...: one gadget (08E6:4433) with several ccid
# function instances (functions/ccid.INST), one interface each, bound to
# dummy_udc.0. gadget_multi_down NAME INST... removes it.
gadget_multi() {
	_g=$CFS/g_$1
	shift
	mkdir -p "$_g/strings/0x409" "$_g/configs/c.1/strings/0x409" || return 1
	echo "$CCID_VID" > "$_g/idVendor"
	echo "$CCID_PID" > "$_g/idProduct"
	echo 0x0200 > "$_g/bcdUSB"
	echo "ccid-gadget" > "$_g/strings/0x409/manufacturer"
	echo "Virtual CCID reader" > "$_g/strings/0x409/product"
	echo "0002" > "$_g/strings/0x409/serialnumber"
	echo "CCID" > "$_g/configs/c.1/strings/0x409/configuration"
	for _is in "$@"; do
		mkdir "$_g/functions/ccid.${_is%%:*}" || return 1
		echo "${_is##*:}" > "$_g/functions/ccid.${_is%%:*}/nslots" || return 1
		ln -s "$_g/functions/ccid.${_is%%:*}" "$_g/configs/c.1/" || return 1
	done
	udc_bind "$_g" || return 1
	wait_for 10 usb_present
}

gadget_multi_down() {
	_g=$CFS/g_$1
	shift
	[ -d "$_g" ] || return 0
	echo "" > "$_g/UDC" 2>/dev/null
	for _i in "$@"; do
		rm -f "$_g/configs/c.1/ccid.$_i"
		rmdir "$_g/functions/ccid.$_i" 2>/dev/null
	done
	rmdir "$_g/configs/c.1/strings/0x409" "$_g/configs/c.1" 2>/dev/null
	rmdir "$_g/strings/0x409" "$_g" 2>/dev/null
	[ ! -d "$_g" ]
}

# multi_dev NAME INST: the /dev/ccidgN of instance INST of gadget NAME
multi_dev() {
	func_dev "$CFS/g_$1" "ccid.$2"
}

# SPDX-License-Identifier: GPL-2.0
#
# Guest side of faults.t, on the sanitizer kernel: allocation failures
# injected with fail-nth (failslab and fail_page_alloc) into every step a
# user takes. For n = 1, 2, ... the n-th allocation of the step fails,
# until the step no longer reaches an n-th allocation. Every failed try
# must return an error and leave things as they were (the next try works);
# the kernel must report nothing (run-vm) and leak nothing (kmemleak at
# the end).
. "$CCID_REPO/tests/vm/lib.sh"

FAULT=$CCID_BUILD/tests/ccid-fault
need_tool "$FAULT" "$TESTCARD" lsusb timeout
if [ "${CCID_KDEBUG:-0}" != 1 ]; then
	echo "1..0 # SKIP fault injection needs the sanitizer kernel (this is $CCID_KERNEL)"
	exit 0
fi
ensure_configfs || bail "configfs not mounted"
D=/sys/kernel/debug
for a in failslab fail_page_alloc; do
	[ -d "$D/$a" ] || bail "no $D/$a (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC)"
	# fail-nth decides which call fails; these make every allocation a
	# candidate, quietly (run-vm would take the messages for reports)
	echo N > "$D/$a/ignore-gfp-wait"
	echo 0 > "$D/$a/verbose"
	echo 0 > "$D/$a/probability"
done
echo 0 > "$D/fail_page_alloc/min-order"
echo N > "$D/fail_page_alloc/ignore-gfp-highmem"
MAXN=${CCID_FAULT_MAXN:-2000}

# inject NAME UNDO OP ARGS...: OP under fail-nth for n = 1, 2, ... until
# it runs without reaching the n-th point. After a try that succeeded
# anyway (the failure was absorbed), UNDO (a shell command) undoes it.
# Fails if a try neither succeeded nor returned an error, or if n passes
# MAXN.
inject() {
	_name=$1 _undo=$2
	shift 2
	_n=1 _fail=0 _errs=0
	while [ $_n -le $MAXN ]; do
		_r=$("$FAULT" -n $_n "$@")
		_rc=$?
		case "$_r" in
		not-injected*)
			[ $_rc -eq 0 ] || { diag "$_name: fails without injection: $_r"; _fail=1; }
			break ;;
		injected*) ;;
		*) diag "$_name: n=$_n: ccid-fault: $_r (exit $_rc)"; _fail=1; break ;;
		esac
		if [ $_rc -eq 0 ]; then
			sh -c "$_undo" || { diag "$_name: n=$_n: undo failed"; _fail=1; break; }
		else
			_errs=$((_errs + 1))
			case "$_r" in
			*"errno=0"*) diag "$_name: n=$_n: failed with no errno"; _fail=1 ;;
			esac
		fi
		_n=$((_n + 1))
	done
	[ $_n -gt $MAXN ] && { diag "$_name: still injecting at n=$MAXN"; _fail=1; }
	diag "$_name: $((_n - 1)) failure points tried, $_errs returned an error"
	# the step works once nothing is injected (ccid-fault ran it last)
	check "$_name: every injected failure returns an error, the next try works" test $_fail -eq 0
}

echo "ccid-vm: expect-faults on" > /dev/kmsg
G=$CFS/g_fi
mkdir -p "$G/strings/0x409" "$G/configs/c.1/strings/0x409" || bail "gadget mkdir"
echo "$CCID_VID" > "$G/idVendor"
echo "$CCID_PID" > "$G/idProduct"
echo "0001" > "$G/strings/0x409/serialnumber"

# configfs: mkdir and rmdir of the function
inject "mkdir functions/ccid.fi" "rmdir $G/functions/ccid.fi" mkdir "$G/functions/ccid.fi"
check "the function exists" test -d "$G/functions/ccid.fi"
inject "write nslots" "true" write "$G/functions/ccid.fi/nslots" 2
check "nslots is 2" test "$(cat "$G/functions/ccid.fi/nslots")" = 2
# linking the function into a configuration allocates the usb_function
inject "link the function into c.1" "rm $G/configs/c.1/ccid.fi" symlink \
	"$G/functions/ccid.fi" "$G/configs/c.1/ccid.fi"
check "the function is linked" test -L "$G/configs/c.1/ccid.fi"

# bind to the UDC (bind allocates requests, buffers, the char device).
# Every try binds another of NG gadgets, each with a ccid function of its
# own: a gadget's driver outlives its unbind by up to 4 s on this kernel
# (DEBUG_KOBJECT_RELEASE), and binding it again meanwhile would fail on
# its name, not in the code under test.
NG=6
for k in $(seq 1 $NG); do
	g=$CFS/g_fb$k
	mkdir -p "$g/strings/0x409" "$g/configs/c.1" "$g/functions/ccid.fb$k" ||
		bail "set-up of gadget $k"
	echo "$CCID_VID" > "$g/idVendor"
	echo "$CCID_PID" > "$g/idProduct"
	echo "000$k" > "$g/strings/0x409/serialnumber"
	ln -s "$g/functions/ccid.fb$k" "$g/configs/c.1/" || bail "link $k"
done
bind_rr() {
	# bind_rr N: the N-th try, on gadget N % NG
	_g=$CFS/g_fb$(( $1 % NG + 1 ))
	wait_for 8 test ! -e "/sys/bus/gadget/drivers/configfs-gadget.${_g##*/}"
	"$FAULT" -n "$1" write "$_g/UDC" dummy_udc.0
	_rc=$?
	[ $_rc -eq 0 ] && echo "" > "$_g/UDC"
	return $_rc
}
_n=1 _fail=0 _errs=0
while [ $_n -le $MAXN ]; do
	_r=$(bind_rr $_n)
	_rc=$?
	case "$_r" in
	not-injected*) [ $_rc -eq 0 ] || { diag "bind: fails without injection: $_r"; _fail=1; }; break ;;
	injected*) [ $_rc -ne 0 ] && _errs=$((_errs + 1)) ;;
	*) diag "bind: n=$_n: $_r (exit $_rc)"; _fail=1; break ;;
	esac
	case "$_r" in *"rc=-1 errno=0"*) diag "bind: n=$_n failed with no errno"; _fail=1 ;; esac
	_n=$((_n + 1))
done
diag "bind: $((_n - 1)) failure points tried, $_errs returned an error"
check "bind to dummy_udc.0: every injected failure returns an error, the next try works" \
	test $_fail -eq 0 -a $_n -le $MAXN
for k in $(seq 1 $NG); do
	g=$CFS/g_fb$k
	echo "" > "$g/UDC" 2>/dev/null
	rm -f "$g/configs/c.1/ccid.fb$k"
	rmdir "$g/functions/ccid.fb$k" "$g/configs/c.1" "$g/strings/0x409" "$g"
done

# the function of the first gadget, bound for the char device checks
udc_bind "$G" || bail "cannot bind $G"
check "the gadget is bound" test "$(cat "$G/UDC")" = dummy_udc.0
udev_settle
DEV=""
mm=$(cat "$G/functions/ccid.fi/dev")
for d in /dev/ccidg*; do
	[ "$(stat -c '%t:%T' "$d" 2>/dev/null)" = "$(printf '%x:%x' "${mm%%:*}" "${mm##*:}")" ] && DEV=$d
done
check "its char device exists ($DEV)" test -c "$DEV"

# the char device: open, and the ioctls
inject "open $DEV" "true" open "$DEV"
inject "INSERT ioctl" "true" insert "$DEV" 1
inject "GET_STATUS ioctl" "true" status "$DEV"

echo "ccid-vm: expect-faults off" > /dev/kmsg

# the function works after all that
udev_settle
testcard_start "$DEV" || { show_log "$TC_LOG"; bail "ccid-testcard did not start"; }
out=$(timeout 20 "$RAWUSB" xfr 0010000003C0FFEE 2>&1)
check "the function answers APDUs afterwards ($out)" test "$out" = "C0 FF EE 90 00"
testcard_stop

# rmdir under injection (after unbinding and unlinking)
echo "" > "$G/UDC"
rm "$G/configs/c.1/ccid.fi"
echo "ccid-vm: expect-faults on" > /dev/kmsg
inject "rmdir functions/ccid.fi" "mkdir $G/functions/ccid.fi" rmdir "$G/functions/ccid.fi"
echo "ccid-vm: expect-faults off" > /dev/kmsg
check "the function is gone" test ! -d "$G/functions/ccid.fi"
rmdir "$G/configs/c.1/strings/0x409" "$G/configs/c.1" "$G/strings/0x409" "$G"
check "rmmod usb_f_ccid" rmmod usb_f_ccid
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# Guest side of libvirt.t: tests/vm/pkgroot --libvirt has installed the
# ccidctl package of `make deb` and Debian's libvirtd (the packages that
# `make deps` keeps in /var/cache/ccid-gadget/debs) with dpkg and apt-get
# in a copy-on-write root on the host, at the host's speed, and the VM
# boots that root. Here libvirtd and virtlogd are started as root, the way
# Debian's init scripts start them, and libvirtd runs the package's hook
# as it runs hooks on a user's machine. (Not under systemd as PID 1: there
# every package's maintainer scripts reload systemd, about half a minute
# each under TCG; tests/vm/systemd.t covers the units.)
#
# 1. virsh define a domain whose reader and card are in <metadata>
#    <ccid:devices>: dumpxml keeps them, and ccidctl reads them from there.
# 2. virsh start: libvirtd runs the hook's "prepare begin", the reader and
#    its card come up before libvirt looks for the domain's <hostdev>, and
#    QEMU (usb-host) holds the reader.
# 3. virsh destroy: "release end" stops ccidctl, the reader leaves the bus.
# 4. A domain whose metadata ccidctl refuses is not started, and libvirt's
#    error carries the hook's reason.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"
CCIDCTL=/usr/sbin/ccidctl	# the package's, as the hook runs it

DEBS=${CCID_DEBCACHE:-/var/cache/ccid-gadget/debs}
XML=$CCID_REPO/tests/vm/xml/libvirt-domain.xml
BAD=$CCID_REPO/tests/vm/xml/libvirt-badcard.xml
HOOK=/etc/libvirt/hooks/qemu.d/ccid-gadget
RUN=/run/ccid-gadget/libvirt
NS=http://ccid-gadget.invalid/xmlns/ccidctl/1

lv() {
	timeout 300 virsh -q -c qemu:///system "$@"
}
# what libvirtd and the hook said, into the TAP output
lv_logs() {
	show_log /tmp/libvirtd.log
	show_log "$RUN/ccid-vm.log"
	show_log /var/log/libvirt/qemu/ccid-vm.log
}
gadgets() {
	ls -d "$CFS"/ccidctl-* 2>/dev/null
}

PR=/var/log/ccid-pkgroot

need_tool lsusb qemu-system-x86_64
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"
[ -r "$PR/dpkg.rc" ] || bail "no $PR/dpkg.rc: run this under tests/vm/pkgroot --libvirt (libvirt.t does)"
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

rc=$(cat "$PR/dpkg.rc")
check "dpkg -i ccidctl (in the root, on the host): exit 0 ($rc)" test "$rc" = 0
[ "$rc" = 0 ] || show_log "$PR/dpkg.log"
check "the hook is in libvirt's hooks/qemu.d, executable" test -x "$HOOK"
rc=$(cat "$PR/apt.rc" 2>/dev/null)
diag "$(tail -n 1 "$PR/apt.log" 2>/dev/null)"
check "apt-get install libvirt-daemon-system, offline from $DEBS: exit 0 (${rc:-none})" test "$rc" = 0
[ "$rc" = 0 ] || { show_log "$PR/apt.log"; bail "no libvirtd"; }

# This VM has no AppArmor userspace (apparmor_parser), which libvirt's
# AppArmor driver would need for every domain: the test is about the hook
echo 'security_driver = "none"' >> /etc/libvirt/qemu.conf
mkdir -p /run/libvirt /var/log/libvirt/qemu
virtlogd -d > /tmp/virtlogd.log 2>&1
LIBVIRT_LOG_OUTPUTS="3:file:/tmp/libvirtd.log" libvirtd -d > /tmp/libvirtd.out 2>&1
rc=$?
check "libvirtd -d: exit 0 ($rc)" test "$rc" -eq 0
check "libvirtd listens on /run/libvirt/libvirt-sock" wait_for 60 test -S /run/libvirt/libvirt-sock

# --- 1. define, dumpxml ---------------------------------------------------
t0=$(uptime_s)
lv define "$XML" > /tmp/define.log 2>&1
rc=$?
show_log /tmp/define.log
diag "virsh define took $(($(uptime_s) - t0)) s (libvirtd probes QEMU first)"
check "virsh define ccid-vm: exit 0 ($rc)" test "$rc" -eq 0
lv dumpxml ccid-vm > /tmp/dump.xml 2>&1
check "virsh dumpxml keeps <ccid:devices> and its namespace" \
	grep -q "<ccid:devices xmlns:ccid=[\"']$NS[\"']" /tmp/dump.xml
check "and the card's vpcd wire in it" grep -q "<ccid:wire protocol=[\"']vpcd[\"']" /tmp/dump.xml
lv dumpxml ccid-vm 2>/dev/null | "$CCIDCTL" validate - > /tmp/validate.log 2>&1
rc=$?
show_log /tmp/validate.log
check "virsh dumpxml ccid-vm | ccidctl validate -: exit 0 ($rc)" test "$rc" -eq 0
check "no reader before the domain starts" test -z "$(gadgets)"

# --- 2. start -------------------------------------------------------------
t0=$(uptime_s)
lv start ccid-vm > /tmp/start.log 2>&1
rc=$?
show_log /tmp/start.log
diag "virsh start took $(($(uptime_s) - t0)) s"
check "virsh start ccid-vm: exit 0 ($rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || lv_logs
check "the domain is running" test "$(lv domstate ccid-vm 2>/dev/null)" = running
pid=$(cat "$RUN/ccid-vm.pid" 2>/dev/null)
check "the hook's ccidctl runs (pid ${pid:-none})" \
	sh -c "[ -n '$pid' ] && [ \"\$(cat /proc/$pid/comm 2>/dev/null)\" = ccidctl ]"
check "it made the reader's gadget ($(gadgets | tr '\n' ' '))" test -n "$(gadgets)"
check "the reader is on the bus" usb_present
lv qemu-monitor-command ccid-vm --hmp 'info usb' > /tmp/infousb.txt 2>&1
show_log /tmp/infousb.txt
check "QEMU's usb-host holds the reader (info usb)" \
	grep -q 'ccid-gadget virtual reader' /tmp/infousb.txt
vicc_start -t iso7816
card_in() {
	[ "$(slot_state ccidctl-dummy_udc.0 ccid.0 0)" = present ]
}
wait_for 30 card_in
st=$(slot_state ccidctl-dummy_udc.0 ccid.0 0)
check "ccidctl serves the metadata's card, vicc's, in slot 0 (${st:-no state})" test "$st" = present
vicc_stop

# --- 3. destroy -----------------------------------------------------------
lv destroy ccid-vm > /tmp/destroy.log 2>&1
rc=$?
show_log /tmp/destroy.log
check "virsh destroy ccid-vm: exit 0 ($rc)" test "$rc" -eq 0
check "the hook's ccidctl has stopped (release end)" \
	wait_for 15 sh -c "! kill -0 $pid 2>/dev/null"
check "its gadget is gone, the reader has left the bus" \
	wait_for 10 sh -c "! ls -d $CFS/ccidctl-* && ! lsusb -d 08e6:4433"
show_log "$RUN/ccid-vm.log"

# --- 4. a domain whose cards cannot be served ------------------------------
lv define "$BAD" > /tmp/define.log 2>&1
check "virsh define ccid-bad: exit 0" test $? -eq 0
lv start ccid-bad > /tmp/start.log 2>&1
rc=$?
show_log /tmp/start.log
check "virsh start ccid-bad fails (exit $rc)" test "$rc" -ne 0
check "libvirt's error is the hook's (ccid-gadget hook: ...)" \
	grep -q 'ccid-gadget hook: ccid-bad' /tmp/start.log
check "the domain is shut off, no gadget made" \
	sh -c "[ \"\$(virsh -q -c qemu:///system domstate ccid-bad 2>/dev/null)\" = 'shut off' ] && ! ls -d $CFS/ccidctl-*"

lv undefine ccid-vm > /dev/null 2>&1
lv undefine ccid-bad > /dev/null 2>&1
pkill -x libvirtd
pkill -x virtlogd
done_testing

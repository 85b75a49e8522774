# SPDX-License-Identifier: GPL-2.0
#
# Guest side of systemd.t, run by run-vm --systemd: systemd is PID 1 and
# this script is its unit ccid-test.service. The ccidctl package of
# `make deb` is installed, and its unit ccidctl@NAME.service runs as
# systemd runs it on a user's machine, sandbox and DynamicUser included:
#
# 1. systemctl start: ccidctl-gadget@NAME (root) makes the gadget first,
#    the daemon runs as a transient user in the group ccid, and systemd
#    has it active once it says READY; the card (vsmartcard's vicc over
#    vpcd) reaches pcscd.
# 2. systemctl reload with a file that no longer validates: refused, the
#    daemon and its card carry on. With a changed card (a new port): the
#    same daemon takes the new card, and the host sees it.
# 3. systemctl stop: the daemon ends, then the gadget unit, and the reader
#    leaves the bus.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

DEB=$CCID_BUILD/deb
U=ccidctl@sd.service
CONF=/etc/ccid-gadget/sd.xml

# the unit's state, one property
prop() {
	systemctl show -P "$1" "$U" 2>/dev/null
}
# the unit's journal into the TAP output (what ccidctl said)
journal() {
	journalctl -q -o cat --no-pager -u "$U" 2>/dev/null | tail -n "${1:-15}" | sed 's/^/#   /'
}

check "PID 1 is systemd" test "$(cat /proc/1/comm)" = systemd
need_tool systemctl journalctl dpkg pcscd lsusb /usr/bin/python3
need_vicc
ls "$DEB"/ccidctl_*_amd64.deb >/dev/null 2>&1 ||
	bail "no ccidctl package in $DEB: run 'make deb' (make tests-build does)"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

no_mandb
dpkg -i "$DEB"/ccidctl_*_amd64.deb > /tmp/dpkg.log 2>&1
rc=$?
check "dpkg -i ccidctl under a running systemd: exit 0 ($rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || show_log /tmp/dpkg.log
check "the group ccid exists (sysusers)" sh -c "getent group ccid >/dev/null"
systemctl start systemd-udevd.service > /tmp/udevd.log 2>&1
check "systemctl start systemd-udevd (the package's rule)" \
	sh -c "[ \"\$(systemctl is-active systemd-udevd.service)\" = active ]"
show_log /tmp/udevd.log

mkdir -p /tmp/units
ln -s /lib/systemd/system/ccidctl@.service /tmp/units/ccidctl@sd.service
ln -s /lib/systemd/system/ccidctl-gadget@.service /tmp/units/ccidctl-gadget@sd.service
systemd-analyze verify --man=no /tmp/units/ccidctl@sd.service /tmp/units/ccidctl-gadget@sd.service \
	> /tmp/verify.txt 2>&1
rc=$?
show_log /tmp/verify.txt
check "systemd-analyze verify of both units: exit 0, nothing said ($rc)" \
	sh -c "[ $rc -eq 0 ] && ! [ -s /tmp/verify.txt ]"

# --- 1. start ---------------------------------------------------------------
mkdir -p /etc/ccid-gadget
cp "$E2E_XML/vpcd-bind.xml" "$CONF"
systemctl start "$U" > /tmp/start.log 2>&1
rc=$?
show_log /tmp/start.log
check "systemctl start $U: exit 0 ($rc)" test "$rc" -eq 0
check "$U is active (ready: Type=notify)" test "$(prop ActiveState)" = active
check "it pulled in ccidctl-gadget@sd.service, active (it made the reader)" \
	test "$(systemctl show -P ActiveState ccidctl-gadget@sd.service)" = active
journal
pid=$(prop MainPID)
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$pid/status" 2>/dev/null)
gid=$(getent group ccid | cut -d: -f3)
check "the daemon (pid $pid) is ccidctl, not root (uid ${uid:-?})" \
	sh -c "[ \"\$(cat /proc/$pid/comm 2>/dev/null)\" = ccidctl ] && [ -n '$uid' ] && [ '$uid' != 0 ]"
check "the daemon is in the group ccid ($gid; groups:${groups:-?})" \
	sh -c "for g in $groups; do [ \"\$g\" = '$gid' ] && exit 0; done; exit 1"
check "systemd shows what it serves (STATUS=: $(prop StatusText))" \
	sh -c "systemctl show -P StatusText '$U' | grep -q serving"
dev=$(ls /dev/ccidg* 2>/dev/null | head -n 1)
perm=$(stat -c '%U:%G %a' "$dev" 2>/dev/null)
check "${dev:-/dev/ccidg?} is root:ccid 0660 (${perm:-missing})" test "$perm" = "root:ccid 660"
pcscd_usb_only || bail "pcscd did not start"
pcsc_check "pcscd + libccid have the unit's reader" count 1 30
vicc_start -t iso7816
pcsc_check "vicc's card, through the unit's daemon, is in the reader" wait '#0' present 30
pcsc_check "an APDU to it is answered" transmit '#0' 00A4000C023F00

# --- 2. reload ----------------------------------------------------------------
echo '<devices><smartcard mode="passthrough" type="pty"/>' > "$CONF"
systemctl reload "$U" > /tmp/reload.log 2>&1
rc=$?
show_log /tmp/reload.log
journal 6
check "systemctl reload with a broken file: refused (exit $rc)" test "$rc" -ne 0
check "the unit stays active, the same daemon ($(prop MainPID))" \
	sh -c "[ \"\$(systemctl show -P ActiveState '$U')\" = active ] && [ \"\$(systemctl show -P MainPID '$U')\" = '$pid' ]"
pcsc_check "the card still answers" transmit '#0' 00A4000C023F00
vicc_stop
sed 's/35963/35964/' "$E2E_XML/vpcd-bind.xml" > "$CONF"
systemctl reload "$U" > /tmp/reload.log 2>&1
rc=$?
show_log /tmp/reload.log
journal 6
check "systemctl reload with the card on a new port: exit 0 ($rc)" test "$rc" -eq 0
check "the same daemon still serves ($(prop MainPID))" test "$(prop MainPID)" = "$pid"
vicc_start -t iso7816 -P 35964
pcsc_check "the new card (vicc on port 35964) is in the reader" wait '#0' present 30
pcsc_check "an APDU to it is answered" transmit '#0' 00A4000C023F00
vicc_stop

# --- 3. stop ------------------------------------------------------------------
systemctl stop "$U" > /tmp/stop.log 2>&1
rc=$?
show_log /tmp/stop.log
check "systemctl stop $U: exit 0 ($rc)" test "$rc" -eq 0
check "$U is inactive, not failed ($(prop ActiveState))" test "$(prop ActiveState)" = inactive
check "the daemon is gone" sh -c "! kill -0 $pid 2>/dev/null"
check "ccidctl-gadget@sd.service has stopped too (no unit needs it)" \
	wait_for 10 sh -c "[ \"\$(systemctl show -P ActiveState ccidctl-gadget@sd.service)\" = inactive ]"
check "the reader leaves the bus (ccidctl-gadget@sd stops: gadget down)" \
	wait_for 10 sh -c '! lsusb -d 08e6:4433 >/dev/null 2>&1'
check "no gadget of ccidctl is left in configfs" sh -c "! ls -d $CFS/ccidctl-* >/dev/null 2>&1"
pcsc_check "pcscd sees the reader go" count 0 15
journal
stop_pcscd
dpkg -r ccidctl > /tmp/dpkg-r.log 2>&1
rc=$?
check "dpkg -r ccidctl: exit 0 ($rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || show_log /tmp/dpkg-r.log
done_testing

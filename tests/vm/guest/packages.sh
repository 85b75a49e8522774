# SPDX-License-Identifier: GPL-2.0
#
# Guest side of packages.t. tests/vm/pkgroot has installed the packages of
# `make deb` with dpkg into a copy-on-write root on the host (DKMS built
# the module there for this kernel, as on a user's machine); run-vm
# --root --no-module boots that root, and this script checks and uses what
# the packages left in it:
#
# 1. dpkg -i of both packages succeeded; DKMS built and installed
#    usb_f_ccid for the running kernel (and, on 6.1, for 6.12 when that
#    kernel "arrived" after the package, through the hook a kernel
#    package runs); ccidctl is in /usr/sbin, reports the package's version
#    and reads the schema the package put in /usr/share/ccid-gadget (not
#    the tree's, which is still here); `man ccidctl` shows the page;
#    systemd-analyze verify accepts the unit ccidctl@NAME.service.
# 2. mkdir of functions/ccid.NAME autoloads the DKMS-built module.
# 3. udev (the package's rule): /dev/ccidg* is root:ccid 0660. As root,
#    `ccidctl gadget up --udc auto` makes the reader; a user outside the
#    group ccid cannot open its char device; a user in it serves a card
#    (vsmartcard's vicc over vpcd) that pcscd + libccid see, until
#    SIGTERM; `gadget down` removes the reader.
# 4. The libvirt hook, run as libvirt runs it ("NAME prepare begin -"
#    with the domain XML on stdin): a domain without ccid metadata is
#    left alone; one with <metadata><ccid:devices> gets its reader and
#    its card (the <smartcard> of <devices>, QEMU's, is not served);
#    "release end" takes them away. (tests/vm/libvirt.t has libvirtd
#    itself run it.)
# 5. dpkg -r, in the root on the host after the VM (tests/vm/pkgroot):
#    the module goes with ccid-gadget-dkms.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

CCIDCTL=/usr/sbin/ccidctl
KREL=$(uname -r)
MDXML=$CCID_REPO/tests/vm/xml/libvirt-metadata.xml
HOOK=/etc/libvirt/hooks/qemu.d/ccid-gadget
PR=/var/log/ccid-pkgroot

ensure_configfs || bail "configfs not mounted"
need_tool pcscd lsusb timeout setpriv useradd dpkg dkms /usr/bin/python3
need_vicc
[ -r "$PR/dpkg.rc" ] || bail "no $PR/dpkg.rc: this VM's root is not one of tests/vm/pkgroot"
lsmod | grep -q '^usb_f_ccid ' && bail "usb_f_ccid is loaded: this test needs run-vm --no-module"
# dkms uses bash's <(...), which needs /dev/fd (udev or systemd makes it
# on a real system; this VM's devtmpfs has none)
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

# --- 1. what the installation did -------------------------------------------
rc=$(cat "$PR/dpkg.rc")
check "dpkg -i ccid-gadget-dkms ccidctl (in the root, on the host): exit 0 ($rc)" test "$rc" -eq 0
grep -h 'took' "$PR/dpkg.log" "$PR/newkernel.log" 2>/dev/null | sed 's/^/# /'
[ "$rc" -eq 0 ] || show_log "$PR/dpkg.log"
ver=$(dpkg-query -W -f '${Version}' ccid-gadget-dkms 2>/dev/null)
dkms status ccid-gadget > /tmp/dkms.txt 2>&1
show_log /tmp/dkms.txt
check "dkms status: ccid-gadget/$ver installed for $KREL" \
	grep -q "^ccid-gadget/$ver, $KREL, .*: installed" /tmp/dkms.txt
if [ -r "$PR/newkernel.rel" ]; then
	nrel=$(cat "$PR/newkernel.rel")
	rc=$(cat "$PR/newkernel.rc")
	[ "$rc" -eq 0 ] || show_log "$PR/newkernel.log"
	check "a new kernel ($nrel) installed after the package: its hook builds the module (exit $rc)" \
		sh -c "[ $rc -eq 0 ] && grep -q '^ccid-gadget/$ver, $nrel, .*: installed' /tmp/dkms.txt"
	check "and its modules.dep has it" \
		grep -q '^updates/dkms/usb_f_ccid.ko' "/lib/modules/$nrel/modules.dep"
fi
mod=$(modinfo -n usb_f_ccid 2>/dev/null)
check "modinfo: usb_f_ccid is DKMS's (${mod:-none})" \
	sh -c "case '$mod' in /lib/modules/$KREL/updates/dkms/usb_f_ccid.ko*) exit 0;; esac; exit 1"
check "modinfo: the alias usbfunc:ccid is known to depmod" \
	sh -c "modprobe -R usbfunc:ccid | grep -qx usb_f_ccid"
check "ccidctl is /usr/sbin/ccidctl" test "$(command -v ccidctl)" = /usr/sbin/ccidctl
cver=$("$CCIDCTL" --version 2>&1)
printf '%s\n' "$cver" | sed 's/^/# /'
pver=$(dpkg-query -W -f '${Version}' ccidctl 2>/dev/null)
check "ccidctl --version: the package's version ($pver)" \
	sh -c "printf '%s\n' \"\$1\" | grep -qx 'ccidctl $pver'" sh "$cver"
check "ccidctl --version: the schema is the package's /usr/share/ccid-gadget/ccidctl.rng" \
	sh -c "printf '%s\n' \"\$1\" | grep -qx 'schema: /usr/share/ccid-gadget/ccidctl.rng'" sh "$cver"
check "the packaged ccidctl validates a domain with metadata cards" \
	"$CCIDCTL" validate --quiet --offline "$MDXML"
check "man ccidctl shows the page" sh -c 'MANPAGER=cat man ccidctl 2>/dev/null | grep -q "ccidctl apply"'
mkdir -p /tmp/units
ln -s /lib/systemd/system/ccidctl@.service /tmp/units/ccidctl@demo.service
systemd-analyze verify --man=no /tmp/units/ccidctl@demo.service > /tmp/verify.txt 2>&1
rc=$?
show_log /tmp/verify.txt
check "systemd-analyze verify ccidctl@demo.service: exit 0, nothing said ($rc)" \
	sh -c "[ $rc -eq 0 ] && ! [ -s /tmp/verify.txt ]"
check "the group ccid exists (sysusers)" sh -c "getent group ccid >/dev/null"

# --- 2. autoload -----------------------------------------------------------------
mkdir "$CFS/g_auto" && mkdir "$CFS/g_auto/functions/ccid.auto"
check "mkdir functions/ccid.auto autoloads usb_f_ccid" sh -c "lsmod | grep -q '^usb_f_ccid '"
rmdir "$CFS/g_auto/functions/ccid.auto" "$CFS/g_auto" 2>/dev/null

# --- 3. udev and an unprivileged daemon ------------------------------------------
start_udevd || bail "udevd did not start"
"$CCIDCTL" gadget up --udc auto "$E2E_XML/vpcd-bind.xml" > /tmp/gadget.txt 2>&1
rc=$?
show_log /tmp/gadget.txt
check "ccidctl gadget up --udc auto (as root): exit 0 ($rc)" test "$rc" -eq 0
udevadm settle -t 10 >/dev/null 2>&1
dev=$(awk '{ print $NF }' /tmp/gadget.txt | head -n 1)
# udev may apply the rule a moment after settle has returned (seen on 6.12)
wait_for 10 sh -c "[ \"\$(stat -c '%U:%G %a' $dev)\" = 'root:ccid 660' ]"
perm=$(stat -c '%U:%G %a' "$dev" 2>/dev/null)
check "$dev is root:ccid 0660 (${perm:-missing})" test "$perm" = "root:ccid 660"
useradd -M -N -g nogroup outsider 2>/dev/null
useradd -M -N -g nogroup -G ccid cardsvc 2>/dev/null
setpriv --reuid=outsider --regid=nogroup --init-groups \
	"$CCIDCTL" apply --control none "$E2E_XML/vpcd-bind.xml" > /tmp/outsider.log 2>&1
rc=$?
show_log /tmp/outsider.log
check "a user outside the group ccid cannot serve (exit $rc, permission denied)" \
	sh -c "[ $rc -ne 0 ] && grep -qi 'permission denied' /tmp/outsider.log"
pcscd_usb_only || bail "pcscd did not start"
pcsc_check "pcscd + libccid have the reader" count 1 20
rm -f /tmp/ccidctl.ready
setpriv --reuid=cardsvc --regid=nogroup --init-groups \
	"$CCIDCTL" apply --control none --ready-fd 3 "$E2E_XML/vpcd-bind.xml" \
	3> /tmp/ccidctl.ready >> "$CCIDCTL_LOG" 2>&1 &
CCIDCTL_PID=$!
check "ccidctl apply as cardsvc (group ccid, not root): ready" \
	wait_for 30 grep -q '^ready$' /tmp/ccidctl.ready
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$CCIDCTL_PID/status" 2>/dev/null)
check "the daemon runs as cardsvc (uid ${uid:-?})" test "$uid" = "$(id -u cardsvc)"
vicc_start -t iso7816
pcsc_check "vicc's card, served by the unprivileged daemon, is in the reader" wait '#0' present 30
pcsc_check "an APDU to it is answered" transmit '#0' 00A4000C023F00
vicc_stop
ccidctl_stop
rc=$?
check "the unprivileged daemon exits 0 on SIGTERM ($rc)" test "$rc" -eq 0
stop_pcscd
"$CCIDCTL" gadget down --udc auto > /tmp/gadget.txt 2>&1
rc=$?
show_log /tmp/gadget.txt
check "ccidctl gadget down --udc auto: exit 0, the reader leaves the bus" \
	sh -c "[ $rc -eq 0 ] && ! [ -e $CFS/ccidctl-dummy_udc.0 ]" 
wait_for 10 sh -c '! lsusb -d 08e6:4433'

# --- 4. the libvirt hook ------------------------------------------------------
check "the hook is installed in libvirt's hooks/qemu.d, executable" test -x "$HOOK"
"$HOOK" plain prepare begin - < "$E2E_XML/vpcd-bind.xml" > /tmp/hook.txt 2>&1
rc=$?
show_log /tmp/hook.txt
check "hook: a domain without ccid metadata is left alone (exit $rc, no gadget)" \
	sh -c "[ $rc -eq 0 ] && ! ls -d $CFS/ccidctl-* >/dev/null 2>&1"
pcscd_usb_only || bail "pcscd did not start"
"$HOOK" ccid-guest prepare begin - < "$MDXML" > /tmp/hook.txt 2>&1
rc=$?
show_log /tmp/hook.txt
check "hook 'ccid-guest prepare begin -': exit 0" test "$rc" -eq 0
check "the domain's reader is on the bus" wait_for 10 usb_present
check "the reader has the metadata's 2 slots" \
	sh -c "[ \"\$(cat $CFS/ccidctl-dummy_udc.0/functions/ccid.0/nslots)\" = 2 ]"
pcsc_check "pcscd + libccid have both slots" count 2 20
vicc_start -t iso7816
pcsc_check "vicc's card is in slot 1, the metadata's address" wait '#1' present 30
pcsc_check "slot 0 stays empty (the <devices> smartcard is QEMU's)" wait '#0' absent 3
vicc_stop
"$HOOK" ccid-guest release end - < "$MDXML" > /tmp/hook.txt 2>&1
rc=$?
show_log /tmp/hook.txt
check "hook 'ccid-guest release end -': exit 0" test "$rc" -eq 0
check "the domain's ccidctl is gone, and its gadget" \
	sh -c "! ls -d $CFS/ccidctl-* >/dev/null 2>&1 && ! pgrep -x ccidctl >/dev/null"
pcsc_check "pcscd sees the reader go" count 0 15
show_log /run/ccid-gadget/libvirt/ccid-guest.log
stop_pcscd
stop_udevd

# 5. (dpkg -r: tests/vm/pkgroot, once this VM has gone: depmod of a
# kernel's modules takes over ten minutes under TCG)
[ "$tap_failed" -eq 0 ] || { show_log "$CCIDCTL_LOG"; show_log "$PR/dpkg.log"; }
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# The configfs attributes of functions/ccid.<name>: defaults, range checks
# (-EINVAL), writes refused while the function is linked into a config
# (-EBUSY), and the class descriptor following what was written.
. "$CCID_REPO/tests/vm/lib.sh"

g=$CFS/g_cfs
f=$g/functions/ccid.cfs

# attr_is NAME VALUE
attr_is() { [ "$(cat "$f/$1")" = "$2" ]; }
# write_fails ATTR VALUE ERRNO-TEXT: the write fails with that error
write_fails() {
	# bash, whose echo reports the errno (dash says "I/O error" for all)
	out=$(bash -c "echo '$2' > '$f/$1'" 2>&1) && return 1
	case "$out" in *"$3"*) return 0 ;; esac
	diag "write $1=$2: $out"
	return 1
}
write_ok() { sh -c "echo '$2' > '$f/$1'"; }

mkdir -p "$g" && mkdir "$f" || bail "cannot create $f"
check "defaults: nslots 1" attr_is nslots 1
check "defaults: busy_slots 1" attr_is busy_slots 1
check "defaults: protocols 3 (T=0 and T=1)" attr_is protocols 3
check "defaults: features short+extended APDU, automatic everything" \
	sh -c "[ \$(( \$(cat $f/features) )) -eq $((0x000400fe)) ]"
check "defaults: max_msg_len 65554 (a whole extended APDU)" attr_is max_msg_len 65554
check "dev reads as major:minor" sh -c "grep -Eq '^[0-9]+:[0-9]+\$' $f/dev"
check "dev is read-only" write_fails dev 1:1 "Permission denied"

check "nslots 0: EINVAL" write_fails nslots 0 "Invalid argument"
check "nslots 17: EINVAL" write_fails nslots 17 "Invalid argument"
check "nslots abc: EINVAL" write_fails nslots abc "Invalid argument"
check "nslots 16 accepted" write_ok nslots 16
check "busy_slots follows nslots (16)" attr_is busy_slots 16
check "nslots 4 accepted" write_ok nslots 4
check "busy_slots 5 > nslots: EINVAL" write_fails busy_slots 5 "Invalid argument"
check "busy_slots 2 accepted" write_ok busy_slots 2
check "busy_slots stays 2 when nslots changes" sh -c "echo 3 > $f/nslots && [ \$(cat $f/busy_slots) = 2 ]"
check "busy_slots 0 follows nslots again" sh -c "echo 0 > $f/busy_slots && [ \$(cat $f/busy_slots) = 3 ]"
check "protocols 0: EINVAL" write_fails protocols 0 "Invalid argument"
check "protocols 4: EINVAL" write_fails protocols 4 "Invalid argument"
check "protocols 2 (T=1 only) accepted" write_ok protocols 2
check "features with TPDU level only: EINVAL" write_fails features 0x000100fe "Invalid argument"
check "max_msg_len 270 (below a short APDU): EINVAL" write_fails max_msg_len 270 "Invalid argument"
check "max_msg_len 65555: EINVAL" write_fails max_msg_len 65555 "Invalid argument"
check "max_msg_len 271 accepted" write_ok max_msg_len 271
check "values unchanged by the refused writes" \
	sh -c "[ \$(cat $f/nslots) = 3 ] && [ \$(cat $f/protocols) = 2 ] && [ \$(cat $f/max_msg_len) = 271 ]"

echo "$CCID_VID" > "$g/idVendor"
echo "$CCID_PID" > "$g/idProduct"
mkdir -p "$g/configs/c.1"
ln -s "$f" "$g/configs/c.1/" || bail "cannot link the function"
check "linked: nslots write refused with EBUSY" write_fails nslots 2 "busy"
check "linked: max_msg_len write refused with EBUSY" write_fails max_msg_len 1000 "busy"
check "linked: reading still works" attr_is nslots 3

udc_bind "$g" || bail "cannot bind"
udev_settle
lsusb -v -d "${CCID_VID#0x}:${CCID_PID#0x}" > /tmp/desc.txt 2>/dev/null
check "bound: the class descriptor has 3 slots (nMaxSlotIndex 2)" \
	grep -Eq 'nMaxSlotIndex +2\b' /tmp/desc.txt
check "bound: dwProtocols 2 (T=1)" grep -Eq 'dwProtocols +2 ' /tmp/desc.txt
check "bound: dwMaxCCIDMessageLength 271" grep -Eq 'dwMaxCCIDMsgLen +271\b' /tmp/desc.txt
check "bound: bMaxCCIDBusySlots 3" grep -Eq 'bMaxCCIDBusySlots +3\b' /tmp/desc.txt

echo "" > "$g/UDC"
rm "$g/configs/c.1/ccid.cfs"
check "unlinked: writes accepted again" write_ok nslots 1
rmdir "$g/configs/c.1" "$f" "$g"
check "function and gadget removed" test ! -d "$g"
check "rmmod usb_f_ccid" rmmod usb_f_ccid
done_testing

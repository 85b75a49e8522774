# SPDX-License-Identifier: GPL-2.0
#
# Guest side of ccidctl-cacard.t: ccidctl's libcacard modes, end to end,
# with unmodified pcscd + libccid + OpenSC on the USB host side.
#
# 1. mode host-certificates (tests/vm/xml/host-certificates.xml): an NSS
#    database with three RSA-2048 certificates and keys at the default
#    /etc/pki/nssdb; `ccidctl apply --udc dummy_udc.0` creates the gadget.
#    OpenSC lists the three certificates (pkcs15-tool, pkcs11-tool), the
#    certificate read from the card is the database's, and a signature
#    made through the card with key 0001 verifies with openssl against
#    cert1 (and not against cert2). SIGTERM: exit 0, the reader leaves the
#    host's pcscd, the gadget ccidctl created is gone from configfs.
# 2. mode host (tests/vm/xml/host.xml): a SoftHSM2 token with a key and a
#    certificate, registered in an NSS database (modutil) given with
#    --host-db, plays the host's hardware card; the gadget exists before
#    (gadget_up). The host lists the token's certificate, signs with the
#    token's PIN (verified by openssl), and a wrong PIN is refused.
#    SIGTERM: the card leaves, the gadget stays bound with its slot empty.
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

ensure_configfs || bail "configfs not mounted"
need_tool "$CCIDCTL" pcscd pkcs15-tool pkcs11-tool opensc-tool certutil modutil \
	softhsm2-util openssl lsusb timeout /usr/bin/python3 "$OPENSC_P11" "$SOFTHSM_P11"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

P11="timeout 120 pkcs11-tool --module $OPENSC_P11"
# The ATR of libcacard's CAC card, 3B 7A 18 00 00 "sfte cd144", T=0 only:
# what a power-on gives and QEMU's ccid-card-emulated and vscclient send
CACATR=3B7A18000073667465206364313434
G=$CFS/ccidctl-dummy_udc.0
head -c 1000 /dev/urandom > /tmp/data

# --- 1. host-certificates -------------------------------------------------
mkdir -p /etc/pki
"$CCID_REPO/tests/vm/mknssdb.sh" /etc/pki/nssdb || bail "mknssdb.sh failed"
check "systemd-udevd starts (pcscd sees readers come and go)" start_udevd
pcscd_usb_only || bail "pcscd did not start"

if ccidctl_start --udc dummy_udc.0 "$E2E_XML/host-certificates.xml"; then
	ok "ccidctl apply --udc dummy_udc.0 host-certificates.xml: serving"
else
	not_ok "ccidctl apply --udc dummy_udc.0 host-certificates.xml: serving"
	e2e_dump
	bail "ccidctl did not start"
fi
check "ccidctl created gadget $G bound to dummy_udc.0" \
	sh -c "[ \"\$(cat $G/UDC)\" = dummy_udc.0 ] && [ -d $G/functions/ccid.0 ]"
check "the host enumerates the reader" wait_for 10 usb_present
pcsc_check "pcscd has one reader" count 1 20
pcsc_check "the CAC card is in it, with libcacard's ATR" wait '#0' present 20 "$CACATR"
check "ccidctl status --json: the slot holds a card, the host is connected" \
	status_json 'j["functions"][0]["function"] == "ccid.0" and j["functions"][0]["online"] and j["functions"][0]["slots"][0]["state"] in ("present", "powered")'
"$CCIDCTL" status | sed 's/^/#   /'

out=$(timeout 120 pkcs15-tool --list-certificates 2>&1)
printf '%s\n' "$out" | sed 's/^/#   /'
n=$(printf '%s\n' "$out" | grep -c '^X.509 Certificate')
check "pkcs15-tool --list-certificates lists 3 certificates" test "$n" -eq 3

out=$($P11 --list-objects --type cert 2>&1)
printf '%s\n' "$out" | sed 's/^/#   /'
for i in 1 2 3; do
	check "pkcs11-tool --list-objects shows cert$i's subject" \
		sh -c 'printf "%s\n" "$1" | grep -q "subject:.*CN=ccid-gadget test user $2"' sh "$out" "$i"
done

for i in 1 2; do
	certutil -L -d sql:/etc/pki/nssdb -n "cert$i" -a > "/tmp/cert$i.pem" &&
		openssl x509 -in "/tmp/cert$i.pem" -pubkey -noout > "/tmp/pub$i.pem" ||
		not_ok "certutil exports cert$i"
done
$P11 --read-object --type cert --id 0001 --output-file /tmp/card-cert1.der > /tmp/p11.out 2>&1
openssl x509 -in /tmp/cert1.pem -outform DER -out /tmp/nss-cert1.der
check "the certificate 0001 read from the card is cert1 of the NSS database" \
	cmp /tmp/card-cert1.der /tmp/nss-cert1.der

# any PIN opens a database without a password
$P11 --sign --mechanism SHA256-RSA-PKCS --id 0001 --login --pin 1234 \
	--input-file /tmp/data --output-file /tmp/sig1 > /tmp/p11.out 2>&1
rc=$?
sed 's/^/#   /' /tmp/p11.out
check "pkcs11-tool --sign SHA256-RSA-PKCS with key 0001 through the card" \
	sh -c "[ $rc -eq 0 ] && [ \$(stat -c %s /tmp/sig1) -eq 256 ]"
check "openssl verifies the signature with cert1" \
	openssl dgst -sha256 -verify /tmp/pub1.pem -signature /tmp/sig1 /tmp/data
check "the signature does not verify with cert2" \
	sh -c '! openssl dgst -sha256 -verify /tmp/pub2.pem -signature /tmp/sig1 /tmp/data'
$P11 --sign --mechanism SHA256-RSA-PKCS --id 0002 --login --pin 0000 \
	--input-file /tmp/data --output-file /tmp/sig2 > /tmp/p11.out 2>&1
check "a signature with key 0002 verifies with cert2" \
	openssl dgst -sha256 -verify /tmp/pub2.pem -signature /tmp/sig2 /tmp/data

ccidctl_stop
rc=$?
check "ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
check "its log says the card was removed" log_has 'card 0\.0: removed'
check "the gadget ccidctl created is gone from configfs" test ! -e "$G"
check "the reader is gone from the USB bus" wait_for 10 sh -c '! lsusb -d 08e6:4433'
pcsc_check "pcscd has no reader any more" count 0 20
stop_pcscd

# --- 2. host: a SoftHSM2 token as the host's card ---------------------------
export SOFTHSM2_CONF=/tmp/softhsm/softhsm2.conf
mkdir -p /tmp/softhsm/tokens /tmp/hostdb
cat > "$SOFTHSM2_CONF" <<EOF
directories.tokendir = /tmp/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = true
EOF
S11="timeout 60 pkcs11-tool --module $SOFTHSM_P11 --token-label ccid-e2e"
{
	softhsm2-util --init-token --free --label ccid-e2e --pin 123456 --so-pin 12345678 &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout /tmp/softhsm/key.pem \
		-out /tmp/softhsm/cert.pem -days 30 -subj "/O=ccid-gadget/CN=SoftHSM test user" &&
	openssl pkcs8 -topk8 -nocrypt -in /tmp/softhsm/key.pem -outform DER -out /tmp/softhsm/key.der &&
	openssl x509 -in /tmp/softhsm/cert.pem -outform DER -out /tmp/softhsm/cert.der &&
	openssl x509 -in /tmp/softhsm/cert.pem -pubkey -noout > /tmp/softhsm/pub.pem &&
	$S11 --login --pin 123456 --write-object /tmp/softhsm/key.der --type privkey --id 01 --label e2e-key &&
	$S11 --login --pin 123456 --write-object /tmp/softhsm/cert.der --type cert --id 01 --label e2e-cert &&
	certutil -N -d sql:/tmp/hostdb --empty-password &&
	modutil -dbdir sql:/tmp/hostdb -add softhsm -libfile "$SOFTHSM_P11" -force
} > /tmp/softhsm.log 2>&1
rc=$?
[ $rc -eq 0 ] || show_log /tmp/softhsm.log
check "a SoftHSM2 token with a key and a certificate, registered in an NSS database" test $rc -eq 0
check "NSS sees the token's certificate" \
	sh -c 'certutil -L -d sql:/tmp/hostdb -h all < /dev/null 2>&1 | grep -q "ccid-e2e:e2e-cert"'

gadget_up 0 1 || bail "gadget_up failed"
check "a gadget made before ccidctl (g_0, ccid.0) is bound" usb_present
pcscd_usb_only || bail "pcscd did not start"
if ccidctl_start --host-db /tmp/hostdb "$E2E_XML/host.xml"; then
	ok "ccidctl apply --host-db host.xml: serving on the existing gadget"
else
	not_ok "ccidctl apply --host-db host.xml: serving on the existing gadget"
fi
pcsc_check "pcscd has one reader" count 1 20
pcsc_check "the token appears as a CAC card" wait '#0' present 30 "$CACATR"

out=$(timeout 120 pkcs15-tool --list-certificates 2>&1)
printf '%s\n' "$out" | sed 's/^/#   /'
n=$(printf '%s\n' "$out" | grep -c '^X.509 Certificate')
check "pkcs15-tool lists the token's one certificate" test "$n" -eq 1
out=$($P11 --list-objects --type cert 2>&1)
printf '%s\n' "$out" | sed 's/^/#   /'
check "pkcs11-tool shows its subject" \
	sh -c 'printf "%s\n" "$1" | grep -q "subject:.*CN=SoftHSM test user"' sh "$out"
id=$(printf '%s\n' "$out" | sed -n 's/^ *ID: *\([0-9a-fA-F]*\)$/\1/p' | head -n 1)
diag "certificate id on the card: ${id:-none}"
$P11 --read-object --type cert --id "${id:-0001}" --output-file /tmp/card-hsm.der > /tmp/p11.out 2>&1
check "the certificate read from the card is the token's" cmp /tmp/card-hsm.der /tmp/softhsm/cert.der

$P11 --sign --mechanism SHA256-RSA-PKCS --id "${id:-0001}" --login --pin 123456 \
	--input-file /tmp/data --output-file /tmp/sig-hsm > /tmp/p11.out 2>&1
rc=$?
sed 's/^/#   /' /tmp/p11.out
check "pkcs11-tool --sign through the card with the token's PIN (exit $rc)" test $rc -eq 0
check "openssl verifies the signature with the token's certificate" \
	openssl dgst -sha256 -verify /tmp/softhsm/pub.pem -signature /tmp/sig-hsm /tmp/data
rm -f /tmp/sig-bad
$P11 --sign --mechanism SHA256-RSA-PKCS --id "${id:-0001}" --login --pin 999999 \
	--input-file /tmp/data --output-file /tmp/sig-bad > /tmp/p11.out 2>&1
rc=$?
sed 's/^/#   /' /tmp/p11.out
check "a wrong PIN is refused (the PIN reaches the token)" \
	sh -c "[ $rc -ne 0 ] && [ ! -s /tmp/sig-bad ]"

ccidctl_stop
rc=$?
check "ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
pcsc_check "the host sees the card go" wait '#0' absent 10
check "the gadget it found is still there and bound" \
	sh -c "[ \"\$(cat $CFS/g_0/UDC)\" = dummy_udc.0 ] && lsusb -d 08e6:4433 >/dev/null"
st=$(slot_state g_0 ccid.0 0)
check "ccidctl status: its slot is empty (${st:-no state})" test "$st" = empty
stop_pcscd
check "gadget_down" gadget_down 0
check "systemd-udevd stops" stop_udevd
e2e_dump
done_testing

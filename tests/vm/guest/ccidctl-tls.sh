# SPDX-License-Identifier: GPL-2.0
#
# Guest side of ccidctl-tls.t: passthrough cards over TLS (<source
# tls='yes'>), with x509 credentials made now by tests/vm/mkcerts.sh and
# laid out as libvirt's chardev TLS directory, and tests/vm/vscard-provider
# (GnuTLS, libcacard) as the card provider; pcscd + libccid + OpenSC on
# the USB host side.
#
#   0.0  ccidctl listens with TLS; a provider with a certificate from the
#        CA connects: OpenSC signs through it, openssl verifies
#   0.1  ccidctl listens with TLS; providers with a certificate from
#        another CA, without a certificate, and without TLS at all are
#        refused and the slot stays empty, while 0.0 keeps working; then
#        a trusted provider gets the slot
#   0.2  ccidctl connects with TLS to a listening provider whose
#        certificate names 127.0.0.1 (and checks that it does)
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/ccidctl-e2e.sh"

ensure_configfs || bail "configfs not mounted"
need_tool "$CCIDCTL" "$PROVIDER" pcscd pkcs11-tool certutil openssl lsusb timeout \
	/usr/bin/python3 "$OPENSC_P11"
lsmod | grep -q '^usb_f_ccid ' || bail "usb_f_ccid is not loaded"

CACATR=3B7A18000073667465206364313434
TLS=/tmp/tls
DB=/tmp/provider-db
"$CCID_REPO/tests/vm/mkcerts.sh" "$TLS" || bail "mkcerts.sh failed"
# the providers' own directories: each trusts the test CA (to check
# ccidctl's certificate) and offers a certificate of its own
mkdir -p /tmp/prov-rogue /tmp/prov-nocert
cp "$TLS/ca-cert.pem" /tmp/prov-rogue/
cp "$TLS/rogue/client-cert.pem" "$TLS/rogue/client-key.pem" /tmp/prov-rogue/
cp "$TLS/ca-cert.pem" /tmp/prov-nocert/
"$CCID_REPO/tests/vm/mknssdb.sh" "$DB" || bail "mknssdb.sh failed"
certutil -L -d "sql:$DB" -n cert1 -a > /tmp/cert1.pem &&
	openssl x509 -in /tmp/cert1.pem -pubkey -noout > /tmp/pub1.pem || bail "cannot export cert1"
head -c 1000 /dev/urandom > /tmp/data

cat > /tmp/tls.xml <<'EOF'
<domain type='kvm' xmlns:ccid='http://ccid-gadget.invalid/xmlns/ccidctl/1'>
  <devices>
    <controller type='ccid' index='0' ccid:slots='3'/>
    <smartcard mode='passthrough' type='tcp'>
      <source mode='bind' host='127.0.0.1' service='20301' tls='yes'/>
      <address type='ccid' controller='0' slot='0'/>
    </smartcard>
    <smartcard mode='passthrough' type='tcp'>
      <source mode='bind' host='127.0.0.1' service='20302' tls='yes'/>
      <address type='ccid' controller='0' slot='1'/>
    </smartcard>
    <smartcard mode='passthrough' type='tcp'>
      <source mode='connect' host='127.0.0.1' service='20303' tls='yes'>
        <reconnect enabled='yes' timeout='1'/>
      </source>
      <address type='ccid' controller='0' slot='2'/>
    </smartcard>
  </devices>
</domain>
EOF

provider() {
	_n=$1
	shift
	"$PROVIDER" "$@" >> "/tmp/provider-$_n.log" 2>&1 &
	eval "PROV_$_n=\$!"
}
provider_stop() {
	eval "_p=\${PROV_$1:-}"
	[ -n "$_p" ] || return 0
	kill "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PROV_$1="
}
# refused NAME DESC ARGS...: a provider that must be turned away
refused() {
	_n=$1
	_d=$2
	shift 2
	timeout 60 "$PROVIDER" "$@" > "/tmp/provider-$_n.log" 2>&1
	_rc=$?
	sed 's/^/#   /' "/tmp/provider-$_n.log"
	if [ $_rc -ne 0 ] || grep -q 'peer gone' "/tmp/provider-$_n.log"; then
		ok "$_d: its connection ends (exit $_rc)"
	else
		not_ok "$_d: its connection ends (exit $_rc)"
	fi
	pcsc_check "$_d: slot 0.1 stays empty" wait ') 00 01' absent 3
}
sign_verify() {
	rm -f /tmp/sig
	timeout 120 pkcs11-tool --module "$OPENSC_P11" --sign \
		--mechanism SHA256-RSA-PKCS --id 0001 --login --pin 1234 \
		--input-file /tmp/data --output-file /tmp/sig > /tmp/p11.out 2>&1
	_rc=$?
	sed 's/^/#   /' /tmp/p11.out
	check "$1: pkcs11-tool signs (exit $_rc)" test $_rc -eq 0
	check "$1: openssl verifies the signature with the provider's cert1" \
		openssl dgst -sha256 -verify /tmp/pub1.pem -signature /tmp/sig /tmp/data
}

check "systemd-udevd starts" start_udevd
pcscd_usb_only || bail "pcscd did not start"
if ccidctl_start --udc dummy_udc.0 --tls-dir "$TLS" /tmp/tls.xml; then
	ok "ccidctl apply --tls-dir $TLS: serving three TLS cards"
else
	not_ok "ccidctl apply --tls-dir $TLS: serving three TLS cards"
	e2e_dump
	bail "ccidctl did not start"
fi
check "ccidctl listens with TLS on 127.0.0.1:20301 and :20302" \
	sh -c "grep -q 'card 0.0: waiting for a VSCard provider on 127.0.0.1:20301 (TLS)' $CCIDCTL_LOG &&
	       grep -q 'card 0.1: waiting for a VSCard provider on 127.0.0.1:20302 (TLS)' $CCIDCTL_LOG"
pcsc_check "pcscd has the three slots" count 3 30

# --- 0.0: a trusted provider, OpenSC signs through TLS ------------------------
provider a -d "$DB" --tls "$TLS" --connect 127.0.0.1:20301
pcsc_check "0.0: a provider with a certificate from the CA: its card is in" \
	wait ') 00 00' present 30 "$CACATR"
check "ccidctl logged who the provider is" \
	log_has 'card 0\.0: TLS session established with .*CN=card provider'
sign_verify "0.0 over TLS"

# --- 0.1: providers that are refused ----------------------------------------------
refused rogue "a provider whose certificate comes from an untrusted CA" \
	-d "$DB" --tls /tmp/prov-rogue --connect 127.0.0.1:20302
check "... ccidctl says the certificate is not trusted" \
	log_has 'card 0\.1: provider connection refused: the peer.s certificate is not trusted'
refused nocert "a provider without a certificate" \
	-d "$DB" --tls /tmp/prov-nocert --connect 127.0.0.1:20302
check "... ccidctl says one is required" \
	log_has 'card 0\.1: provider connection refused: the peer sent no certificate'
refused plain "a provider that speaks VSCard without TLS" \
	-d "$DB" --connect 127.0.0.1:20302
check "ccidctl is still serving" kill -0 "$CCIDCTL_PID"
pcsc_check "nothing else disturbed: 0.0 keeps its card" wait ') 00 00' present 2 "$CACATR"
sign_verify "nothing else disturbed: 0.0 still"
provider b -d "$DB" --tls "$TLS" --connect 127.0.0.1:20302
pcsc_check "0.1: then a trusted provider gets the slot" wait ') 00 01' present 30 "$CACATR"

# --- 0.2: ccidctl connects to a TLS provider ---------------------------------------
provider c -d "$DB" --tls "$TLS" --listen 127.0.0.1:20303
pcsc_check "0.2: ccidctl connects with TLS to a provider whose certificate names 127.0.0.1" \
	wait ') 00 02' present 30 "$CACATR"
check "... and ccidctl checked the provider's certificate" \
	log_has 'card 0\.2: TLS session established with .*CN=ccidctl'
check "status --json parses and sees three cards" \
	status_json 'all(s["state"] != "empty" for f in j["functions"] for s in f["slots"])'

ccidctl_stop
rc=$?
check "ccidctl exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
for p in a b c; do
	eval "pp=\${PROV_$p:-}"
	check "provider $p sees its peer go" wait_for 10 sh -c "! kill -0 $pp 2>/dev/null"
	eval "PROV_$p="
done
stop_pcscd
check "systemd-udevd stops" stop_udevd
e2e_dump
done_testing

# SPDX-License-Identifier: GPL-2.0
#
# pair.sh: helpers of the scripts that tests/vm/run-pair runs in its two
# VMs, on top of lib.sh. Source both:
#   . "$CCID_REPO/tests/vm/lib.sh"; . "$CCID_REPO/tests/vm/pair.sh"
# then call pair_setup reader|client first.
#
# The VMs share the directory $PAIR (9p tag "ccidpair"): sig/ holds the
# signals the two scripts give each other, data/ what one makes for the
# other (certificates, figures), req/ the requests to run-pair on the
# machine that runs both VMs (see run-pair --help).

PAIR=/run/ccid-pair
PAIR_ROLE=
PAIR_PEER=
pair_nreq=0

# pair_setup reader|client: mount the shared directory, read the ports,
# bring up the network of the VM (10.0.2.15 on its virtio-net interface;
# QEMU forwards only what run-pair set up).
pair_setup() {
	PAIR_ROLE=$1
	case "$1" in
	reader) PAIR_PEER=client ;;
	client) PAIR_PEER=reader ;;
	*) bail "pair_setup: reader or client, not '$1'" ;;
	esac
	mkdir -p "$PAIR"
	grep -q " $PAIR 9p " /proc/mounts ||
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ccidpair "$PAIR" ||
		bail "cannot mount the shared directory (9p tag ccidpair): not run by run-pair?"
	[ -r "$PAIR/env" ] || bail "no $PAIR/env: not run by run-pair?"
	. "$PAIR/env"
	modprobe virtio_net 2>/dev/null
	_if=
	for _n in /sys/class/net/*; do
		[ -e "$_n/device" ] && { _if=${_n##*/}; break; }
	done
	[ -n "$_if" ] || bail "no network interface (virtio-net) in the $1 VM"
	ip addr add "$PAIR_GUEST_IP/24" dev "$_if" || bail "cannot set the address of $_if"
	ip link set "$_if" up || bail "cannot bring $_if up"
	PAIR_IF=$_if
}

# pair_signal NAME [TEXT]: tell the other VM NAME happened (sig/NAME, whose
# content is TEXT); the rename makes it appear whole.
pair_signal() {
	printf '%s\n' "${2:-}" > "$PAIR/sig/$1.tmp" &&
		mv "$PAIR/sig/$1.tmp" "$PAIR/sig/$1"
}

# pair_wait NAME SECONDS: wait for the other VM's signal NAME. Fails at
# once when the other VM's run is over (its script ended or died).
pair_waited() {
	[ -e "$PAIR/sig/$1" ] && return 0
	[ -e "$PAIR/sig/$PAIR_PEER.exited" ] && return 2
	return 1
}
pair_wait() {
	_pw_end=$(($(uptime_s) + $2))
	while :; do
		pair_waited "$1"
		case $? in
		0) return 0 ;;
		2) diag "the $PAIR_PEER VM's run is over; no '$1' will come"; return 1 ;;
		esac
		[ "$(uptime_s)" -ge "$_pw_end" ] && { diag "no '$1' from the $PAIR_PEER VM in $2 s"; return 1; }
		sleep 0.1
	done
}

# pair_get NAME: the text of signal NAME
pair_get() {
	cat "$PAIR/sig/$1" 2>/dev/null
}

# pair_host REQUEST: ask run-pair for REQUEST (redir-attach, redir-detach,
# relay-cut), wait for the answer; its output is printed (and kept in
# $PAIR_OUT), the status is its own.
PAIR_OUT=/tmp/pair-host.out
pair_host() {
	pair_nreq=$((pair_nreq + 1))
	_r=$PAIR/req/$PAIR_ROLE-$pair_nreq
	echo "$1" > "$_r.tmp" && mv "$_r.tmp" "$_r.req" || return 1
	if ! wait_for 60 test -e "$_r.done"; then
		echo "run-pair did not answer '$1' in 60 s" > "$PAIR_OUT"
		return 1
	fi
	sed 1d "$_r.done" > "$PAIR_OUT"
	cat "$PAIR_OUT"
	_rc=$(head -n 1 "$_r.done")
	rm -f "$_r.done"
	return "${_rc:-1}"
}

# skip_all REASON: the whole file is skipped (before any test line)
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# now_ms: milliseconds of uptime (for the attach-to-listed times)
now_ms() {
	read -r _up _ < /proc/uptime
	_s=${_up%.*}
	_f=${_up#*.}
	_f=${_f#0}
	echo $((_s * 1000 + _f * 10))
}

# --- checks both paths share ---------------------------------------------

CACATR=3B7A18000073667465206364313434
TCATR0=3B8180010000
PAIRPY="$PY $CCID_REPO/tests/vm/pair_pcsc.py"

# listening PORT: something listens on TCP PORT (any address) here
listening() {
	awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp
}

# reader_nssdb DIR: the NSS database of the CAC card (three certificates,
# made on the machine that runs the VMs by pair_nssdb, see usbredir.t) at
# /etc/pki/nssdb, where ccidctl's host-certificates mode looks by default
reader_nssdb() {
	mkdir -p /etc/pki
	rm -rf /etc/pki/nssdb
	cp -r "$1" /etc/pki/nssdb
}

# reader_card_changes PREFIX: take the test card out of slot 0 and put it
# back when the client asks (PREFIX-want-remove, PREFIX-want-insert)
reader_card_changes() {
	if pair_wait "$1-want-remove" 600; then
		check "$1: the test card leaves slot 0 (asked by the client)" tc_ctl remove 0
		pair_signal "$1-removed"
	else
		not_ok "$1: the client asks for the card's removal"
	fi
	if pair_wait "$1-want-insert" 300; then
		check "$1: the test card goes back into slot 0" tc_ctl insert 0
		pair_signal "$1-inserted"
	else
		not_ok "$1: the client asks for the card's insertion"
	fi
}

# client_prepare: the client VM has no gadget stack of its own; udevd and
# pcscd + libccid run, as on any desktop
client_prepare() {
	check "usb_f_ccid is not loaded in the client VM" sh -c '! lsmod | grep -q "^usb_f_ccid "'
	modprobe -r dummy_hcd 2>/dev/null
	check "no dummy_hcd in the client VM: a reader can only come from the other VM" \
		sh -c '! lsmod | grep -q "^dummy_hcd " && ! lsusb -d 08e6:4433'
	check "systemd-udevd starts" start_udevd
	# pcscd_usb_only waits 10 s for the socket: not enough on the
	# sanitizer kernel beside a second VM
	pcscd_usb_only || wait_for 60 test -S /run/pcscd/pcscd.comm ||
		bail "pcscd did not start"
}

# attach_timed NAME COMMAND...: run the attach COMMAND while a pyscard
# client waits for pcscd to list a reader; one test for the command, one
# for the reader. The times from the command's start (the command's own
# run, the device on this VM's USB bus, the reader in pcscd's list) go to
# data/NAME.times and a diagnostic.
attach_timed() {
	_an=$1
	shift
	attach_once "$@"
	# (USB/IP only, ATTACH_UNDO set) once in CI, on a machine loaded
	# beyond CI's own load, vhci-hcd dropped the connection of an
	# attach after a cut 31 ms after "Device attached": "cannot find a
	# urb of seqnum 884", an answer to a URB it no longer had, which it
	# takes for a broken connection. The reader's side had done nothing
	# wrong; a new attach is what a user would do.
	if [ $_lrc -ne 0 ] && [ -n "${ATTACH_UNDO:-}" ] &&
	   dmesg | sed -n "/ccid-vm: attach $_an\$/,\$p" | grep -q 'cannot find a urb of seqnum'; then
		diag "$_an: vhci-hcd dropped the new connection at once (its log:"
		dmesg | sed -n "/ccid-vm: attach $_an\$/,\$p" | grep 'vhci' | head -n 5 | sed 's/^/#   /'
		diag "  ): detached, attached once more"
		$ATTACH_UNDO > /tmp/undo.out 2>&1
		show_log /tmp/undo.out
		attach_once "$@"
	fi
	show_log /tmp/attach.out
	check "$_an: $* (exit $_arc)" test $_arc -eq 0
	_lo=$(cat /tmp/listed.out)
	_bus=$(printf '%s\n' "$_lo" | sed -n 's/.*bus=\([0-9]*\).*/\1/p')
	_lst=$(printf '%s\n' "$_lo" | sed -n 's/.*listed=\([0-9]*\).*/\1/p')
	if [ $_lrc -eq 0 ] && [ -n "$_lst" ]; then
		ok "$_an: pcscd lists the reader $((_lst - _t0)) ms after the attach began"
		echo "attach_ms=$((_t1 - _t0)) bus_ms=$((${_bus:-$_lst} - _t0)) listed_ms=$((_lst - _t0))" \
			> "$PAIR/data/$_an.times"
		diag "$_an: command $((_t1 - _t0)) ms, device on the bus after $((${_bus:-$_lst} - _t0)) ms, listed after $((_lst - _t0)) ms"
	else
		not_ok "$_an: pcscd lists the reader ($_lo)"
	fi
	check "$_an: the reader (08e6:4433) is on this VM's USB bus" lsusb -d 08e6:4433
}

# attach_once COMMAND...: one attach, timed; sets _t0, _t1, _arc (the
# command's status) and _lrc (the pyscard client's: 0 once listed)
attach_once() {
	rm -f /tmp/listed.ready
	$PAIRPY listed /tmp/listed.ready 08e6:4433 90 > /tmp/listed.out 2>&1 &
	_lp=$!
	wait_for 60 test -e /tmp/listed.ready || diag "pyscard did not connect to pcscd in 60 s"
	echo "ccid-vm: attach $_an" > /dev/kmsg
	_t0=$(now_ms)
	"$@" > /tmp/attach.out 2>&1
	_arc=$?
	if [ $_arc -ne 0 ] && [ -n "${ATTACH_RETRY:-}" ]; then
		# (see usbip-client.sh: once in CI the attach after a cut got
		# "recv different busid" while usbipd on the reader side had
		# answered and connected; not understood)
		diag "$_an: the first attempt failed (exit $_arc), once more in 2 s:"
		show_log /tmp/attach.out
		sleep 2
		"$@" > /tmp/attach.out 2>&1
		_arc=$?
	fi
	_t1=$(now_ms)
	wait $_lp
	_lrc=$?
}

# gone_begin: a pyscard client that waits for the reader to go (or its
# card); gone_end DESC LIMIT_MS T0: one test, passed when it saw that
# within LIMIT_MS of T0 (now_ms), the time in the description
gone_begin() {
	rm -f /tmp/gone.ready
	$PAIRPY gone /tmp/gone.ready 60 > /tmp/gone.out 2>&1 &
	_gp=$!
	wait_for 60 test -e /tmp/gone.ready || diag "pyscard did not connect to pcscd in 60 s"
}
gone_end() {
	wait $_gp
	_go=$(sed -n 's/^gone=\([0-9]*\)$/\1/p' /tmp/gone.out)
	if [ -n "$_go" ] && [ $((_go - $3)) -le "$2" ]; then
		ok "$1 $((_go - $3)) ms later"
	else
		not_ok "$1 within $2 ms ($(cat /tmp/gone.out))"
	fi
}

# client_cac PREFIX DIR: the CAC card through OpenSC: three certificates
# (pkcs15-tool), the one read from the card is the NSS database's, a signature with key
# 0001 verifies with cert1 (openssl) and not with cert2
client_cac() {
	_p=$1
	_db=$2
	pcsc_check "$_p: the CAC card is in the reader, with libcacard's ATR" wait '#0' present 30 "$CACATR"
	_out=$(timeout 180 pkcs15-tool --list-certificates 2>&1)
	printf '%s\n' "$_out" | sed 's/^/#   /'
	_n=$(printf '%s\n' "$_out" | grep -c '^X.509 Certificate')
	check "$_p: pkcs15-tool --list-certificates lists 3 certificates" test "$_n" -eq 3
	_p11="timeout 180 pkcs11-tool --module $OPENSC_P11"
	for _i in 1 2; do
		openssl x509 -in "$_db/cert$_i.pem" -pubkey -noout > "/tmp/pub$_i.pem"
	done
	openssl x509 -in "$_db/cert1.pem" -outform DER -out /tmp/nss-cert1.der
	rm -f /tmp/card-cert1.der /tmp/sig1
	$_p11 --read-object --type cert --id 0001 --output-file /tmp/card-cert1.der > /tmp/p11.out 2>&1
	check "$_p: certificate 0001 read from the card is cert1 of the NSS database" \
		cmp -s /tmp/card-cert1.der /tmp/nss-cert1.der
	head -c 1000 /dev/urandom > /tmp/data
	$_p11 --sign --mechanism SHA256-RSA-PKCS --id 0001 --login --pin 1234 \
		--input-file /tmp/data --output-file /tmp/sig1 > /tmp/p11.out 2>&1
	_rc=$?
	sed 's/^/#   /' /tmp/p11.out
	check "$_p: pkcs11-tool --sign SHA256-RSA-PKCS with key 0001 (exit $_rc)" \
		sh -c "[ $_rc -eq 0 ] && [ \$(stat -c %s /tmp/sig1) -eq 256 ]"
	check "$_p: openssl verifies the signature with cert1" \
		openssl dgst -sha256 -verify /tmp/pub1.pem -signature /tmp/sig1 /tmp/data
	check "$_p: the signature does not verify with cert2" \
		sh -c '! openssl dgst -sha256 -verify /tmp/pub2.pem -signature /tmp/sig1 /tmp/data'
}

# client_testcard PREFIX: the test card through pcscd: one reader, the
# card's ATR, APDUs up to a 65,535-byte command and a 65,536-byte
# response; the card taken out and put back in the reader VM is seen here
client_testcard() {
	_p=$1
	pcsc_py readers 1
	pcsc_py present 0 "$TCATR0" 30
	pcsc_py apdus 0
	pair_signal "$_p-want-remove"
	if pair_wait "$_p-removed" 120; then
		pcsc_py absent 0 10
	else
		not_ok "$_p: the reader VM removes the card"
	fi
	pair_signal "$_p-want-insert"
	if pair_wait "$_p-inserted" 120; then
		pcsc_py present 0 "$TCATR0" 10
	else
		not_ok "$_p: the reader VM inserts the card"
	fi
}

# pair_dump: on failure, the logs that explain it
pair_dump() {
	[ "$tap_failed" -eq 0 ] && return 0
	for _f in /tmp/ccidctl.log /tmp/testcard.log /tmp/usbredirect.log /tmp/usbipd.log; do
		[ -s "$_f" ] || continue
		diag "$_f (tail):"
		tail -n 40 "$_f" | sed 's/^/#   /'
	done
	diag "pcscd log (tail):"
	tail -n 60 /tmp/pcscd.log 2>/dev/null | sed 's/^/#   /'
	diag "kernel log (tail):"
	dmesg | tail -n 40 | sed 's/^/#   /'
}

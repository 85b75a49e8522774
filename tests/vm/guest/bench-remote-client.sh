# SPDX-License-Identifier: GPL-2.0
#
# Client VM of tests/vm/bench-remote.sh (run by tests/vm/run-pair): the
# reader VM's test card over usbredir (a usb-redir device hot-plugged by
# run-pair), then over USB/IP (usbip attach). Each round: the time from
# the attach to the device on this VM's bus and to pcscd listing the
# reader; in the first round of each path, APDUs per second through
# pcscd (ccid_bench.py, the same client as the reader VM's local round).
# Prints "bench" lines.
# usage: bench-remote-client.sh SECONDS ROUNDS
. "$CCID_REPO/tests/vm/lib.sh"
. "$CCID_REPO/tests/vm/pair.sh"

SECS=${1:-10}
ROUNDS=${2:-3}
pair_setup client
need_tool usbip pcscd /usr/bin/python3
modprobe -r dummy_hcd 2>/dev/null
modprobe xhci_pci 2>/dev/null
modprobe vhci-hcd || bail "modprobe vhci-hcd failed"
start_udevd || bail "udevd did not start"
pcscd_usb_only || wait_for 60 test -S /run/pcscd/pcscd.comm || bail "pcscd did not start"

# round PATH N ATTACH-COMMAND...: attach, time it, measure, leave attached
round() {
	_path=$1
	_n=$2
	shift 2
	rm -f /tmp/listed.ready
	$PAIRPY listed /tmp/listed.ready 08e6:4433 120 > /tmp/listed.out 2>&1 &
	_lp=$!
	wait_for 60 test -e /tmp/listed.ready
	_t0=$(now_ms)
	"$@" > /tmp/attach.out 2>&1 || { cat /tmp/attach.out; bail "$_path: attach failed"; }
	_t1=$(now_ms)
	wait $_lp || { cat /tmp/listed.out; bail "$_path: the reader was not listed"; }
	_lo=$(cat /tmp/listed.out)
	_bus=$(printf '%s\n' "$_lo" | sed -n 's/.*bus=\([0-9]*\).*/\1/p')
	_lst=$(printf '%s\n' "$_lo" | sed -n 's/.*listed=\([0-9]*\).*/\1/p')
	echo "bench attach path=$_path round=$_n command_ms=$((_t1 - _t0)) bus_ms=$((_bus - _t0)) listed_ms=$((_lst - _t0))"
	if [ "$_n" = 1 ]; then
		$PY "$CCID_REPO/tests/vm/ccid_pcsc.py" present 0 "$TCATR0" 30 > /dev/null ||
			bail "$_path: no card"
		_out=$($PY "$CCID_REPO/tests/vm/ccid_bench.py" apdus 0 "$SECS" 2>&1)
		echo "bench $_path $_out"
	fi
}

i=1
while [ $i -le "$ROUNDS" ]; do
	pair_wait "redir-ready-$i" 600 || bail "no usbredir round $i"
	round usbredir $i pair_host redir-attach
	pair_host redir-detach > /dev/null || bail "unplug failed"
	$PAIRPY gone /tmp/gone.ready 20 > /dev/null
	pair_signal "redir-done-$i"
	i=$((i + 1))
done

pair_wait usbip-ready 600 || bail "no USB/IP export"
i=1
while [ $i -le "$ROUNDS" ]; do
	round usbip $i timeout 60 usbip attach -r "$PAIR_USBIP_ADDR" -d usbip-vudc.0
	port=$(usbip port 2>/dev/null | sed -n 's/^Port \([0-9]*\): <Port in Use>.*/\1/p' | head -n 1)
	usbip detach -p "${port:-0}" > /dev/null || bail "usbip detach failed"
	$PAIRPY gone /tmp/gone.ready 20 > /dev/null
	wait_for 10 sh -c '! usbip port 2>/dev/null | grep -q "Port in Use"'
	sleep 1
	i=$((i + 1))
done
pair_signal usbip-done
stop_pcscd
stop_udevd
ok "the client VM measured usbredir and USB/IP"
done_testing

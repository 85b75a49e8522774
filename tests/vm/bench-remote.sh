#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-remote.sh [--kernel NAME] [SECONDS [ROUNDS]]: the reader through
# pcscd in a second VM, in one run of tests/vm/run-pair: APDUs per second
# over usbredir and over USB/IP beside the same client (ccid_bench.py,
# 10-byte ECHO to ccid-testcard) on the reader VM's own dummy_hcd, and the
# time from an attach to the reader in pcscd's list (ROUNDS attaches per
# path). Prints the figures; never passes or fails on them (it fails only
# when something does not work at all). `make bench-remote` runs it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
kargs=()
if [ "${1:-}" = --kernel ]; then
	kargs=(--kernel "$2")
	shift 2
fi
secs=${1:-10}
rounds=${2:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$here/run-pair" "${kargs[@]}" --timeout 1200 \
	"$here/guest/bench-remote-reader.sh" "$here/guest/bench-remote-client.sh" \
	"$secs" "$rounds" | tee "$out"
rc=${PIPESTATUS[0]}
echo
echo "== the reader in another VM (kernel ${kargs[1]:-default}, QEMU TCG; one run)"
sed -n 's/^# \(reader\|client\): bench /\1 /p' "$out" | awk '
function val(line, key,   i, n, f) {
	n = split(line, f, " ")
	for (i = 1; i <= n; i++)
		if (index(f[i], key "=") == 1)
			return substr(f[i], length(key) + 2)
	return ""
}
$2 == "local" { rate["local dummy_hcd (reader VM)"] = val($0, "rate") }
$2 == "usbredir" && index($0, " rate=") { rate["usbredir (client VM)"] = val($0, "rate") }
$2 == "usbip" && index($0, " rate=") { rate["USB/IP (client VM)"] = val($0, "rate") }
$2 == "attach" {
	p = val($0, "path")
	na[p]++
	bus[p] = bus[p] " " val($0, "bus_ms")
	lst[p] = lst[p] " " val($0, "listed_ms")
	cmd[p] = cmd[p] " " val($0, "command_ms")
}
END {
	printf "%-30s %10s %8s\n", "pcscd + libccid, ECHO 10 B", "APDU/s", "ratio"
	base = rate["local dummy_hcd (reader VM)"]
	split("local dummy_hcd (reader VM)|usbredir (client VM)|USB/IP (client VM)", order, "|")
	for (i = 1; i <= 3; i++) {
		k = order[i]
		r = (k in rate) ? rate[k] : "n/a"
		printf "%-30s %10s %8s\n", k, r, (base > 0 && r != "n/a") ? sprintf("%.2f", r / base) : "-"
	}
	printf "\n%-10s %-34s %-28s %s\n", "attach", "command returned (ms)", "device on the bus (ms)", "reader listed by pcscd (ms)"
	for (p in na)
		printf "%-10s %-34s %-28s %s\n", p, cmd[p], bus[p], lst[p]
	print "(times from the start of the attach: run-pair hot-plugging usb-redir over QMP, or usbip attach)"
}'
exit "$rc"

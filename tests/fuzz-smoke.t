#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A short smoke run of every libFuzzer target over its seed corpus and a
# few seconds of new inputs. `make fuzz` runs them as long as asked.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SMOKE_SECS:-30}
targets=()
for f in "$top"/tests/fuzz/fuzz_*.c; do
	[ -e "$f" ] || continue
	n=${f##*/fuzz_}
	targets+=("${n%.c}")
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "1..1"
	echo "not ok 1 - no fuzz targets in tests/fuzz/"
	exit 1
fi
echo "1..${#targets[@]}"
# Two targets at a time (FUZZ_SMOKE_JOBS): each keeps one core busy
jobs=${FUZZ_SMOKE_JOBS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run_one() {
	local t=$1 bin=$top/build/fuzz/fuzz_$1 work rc
	if [ ! -x "$bin" ]; then
		echo 127 > "$tmp/$t.rc"
		return
	fi
	work=$(mktemp -d -p "$tmp")
	"$bin" -max_total_time="$secs" -print_final_stats=1 "$work" \
		"$top/tests/fuzz/corpus/$t" > "$tmp/$t.out" 2>&1
	echo $? > "$tmp/$t.rc"
	rm -rf "$work"
}
running=0
for t in "${targets[@]}"; do
	run_one "$t" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
i=0
for t in "${targets[@]}"; do
	i=$((i + 1))
	rc=$(cat "$tmp/$t.rc" 2>/dev/null || echo 1)
	if [ "$rc" = 127 ] && [ ! -x "$top/build/fuzz/fuzz_$t" ]; then
		echo "not ok $i - fuzz_$t is not built (make tests-build)"
		continue
	fi
	grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY' "$tmp/$t.out" | sed 's/^/#   /'
	[ "$rc" -eq 0 ] || tail -n 40 "$tmp/$t.out" | sed 's/^/#   /'
	if [ "$rc" -eq 0 ]; then echo "ok $i - fuzz_$t: ${secs}s without a crash"; else echo "not ok $i - fuzz_$t crashed (exit $rc)"; fi
done

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
i=0
for t in "${targets[@]}"; do
	i=$((i + 1))
	bin=$top/build/fuzz/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "not ok $i - fuzz_$t is not built (make tests-build)"
		continue
	fi
	work=$(mktemp -d)
	out=$("$bin" -max_total_time="$secs" -print_final_stats=1 "$work" \
		"$top/tests/fuzz/corpus/$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY' | sed 's/^/#   /'
	if [ $rc -ne 0 ]; then
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/#   /'
	fi
	rm -rf "$work"
	if [ $rc -eq 0 ]; then echo "ok $i - fuzz_$t: ${secs}s without a crash"; else echo "not ok $i - fuzz_$t crashed (exit $rc)"; fi
done

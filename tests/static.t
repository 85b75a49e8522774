#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks: kmod/ and the uapi header clean under checkpatch.pl
# --strict (from linux-source-6.1), sparse (C=2) and W=1 with -Werror;
# ctl/ clean under -Wall -Wextra -Werror. A missing tool is a failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B=$top/build/static
kver=${CCID_KVER:-$(tests/vm/kver)}
kdir=${KDIR:-/lib/modules/$kver/build}
files=(kmod/*.c kmod/*.h uapi/linux/usb/g_ccid.h tests/vm/selftest/*.c)
echo "1..$(( ${#files[@]} + 3 ))"
n=0
res() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
indent() { sed 's/^/#   /'; }

# checkpatch.pl and its data files, from Debian's linux-source-6.1
cp_dir=$top/build/ksrc/scripts
if [ ! -x "$cp_dir/checkpatch.pl" ]; then
	tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
	if [ -n "$tarball" ]; then
		mkdir -p "$top/build/ksrc"
		tar -C "$top/build/ksrc" --strip-components=1 -xf "$tarball" \
			--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch' 2>&1 | indent
	fi
fi
hdr_common=/usr/src/linux-headers-${kver%-*}-common
[ -d "$hdr_common/include" ] || hdr_common=$(readlink -f "$kdir")
for f in "${files[@]}"; do
	if [ ! -x "$cp_dir/checkpatch.pl" ]; then
		res 1 "checkpatch --strict $f: no checkpatch.pl (package linux-source-6.1 missing: make deps)"
		continue
	fi
	# --root: the kernel headers, so that checkpatch knows the kernel's
	# own CamelCase names (USB descriptor fields); GIT_DIR: not ours
	out=$(cd "$top/build/ksrc" && GIT_DIR=/nonexistent perl scripts/checkpatch.pl \
		--no-tree --root="$hdr_common" --strict --quiet --show-types \
		--ignore FILE_PATH_CHANGES -f "$top/$f" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | indent
	res $(( rc != 0 )) "checkpatch --strict $f"
done

# sparse and W=1 -Werror, on a copy so the normal build is not disturbed
rm -rf "$B" && mkdir -p "$B" && cp -r Kbuild kmod uapi "$B"/
if ! command -v sparse >/dev/null; then
	res 1 "sparse C=2: sparse not installed (make deps)"
else
	out=$(make -C "$kdir" M="$B" C=2 modules 2>&1)
	rc=$?
	warn=$(printf '%s\n' "$out" | grep -E '(warning|error):')
	[ -n "$warn" ] && printf '%s\n' "$warn" | indent
	[ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 20 | indent
	res $(( rc != 0 || ${#warn} > 0 )) "sparse C=2 on kmod/: no warnings"
fi
make -C "$kdir" M="$B" clean >/dev/null 2>&1
out=$(make -C "$kdir" M="$B" W=1 KCFLAGS=-Werror modules 2>&1)
rc=$?
warn=$(printf '%s\n' "$out" | grep -E '(warning|error):')
[ -n "$warn" ] && printf '%s\n' "$warn" | indent
res $(( rc != 0 || ${#warn} > 0 )) "W=1 KCFLAGS=-Werror build of kmod/"

# ctl/ with -Werror
out=$(make -s --no-print-directory CCIDCTL="$B/ccidctl" CFLAGS="-O2 -g -Werror" "$B/ccidctl" 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out" | indent
res $rc "ctl/ builds with -Wall -Wextra -Werror"

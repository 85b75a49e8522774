#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# version.sh: the source version that `ccidctl --version` prints and that
# dkms.conf and the packages carry. CCID_VERSION in the environment wins
# (debian/rules passes the package's version); then `git describe` of a
# tagged tree; then the upstream version of debian/changelog, with the
# commit appended when this is a git tree without tags.
cd "$(dirname "$0")/.." || exit 1
if [ -n "${CCID_VERSION:-}" ]; then
	echo "$CCID_VERSION"
	exit 0
fi
base=$(sed -n '1s/^[^(]*(\([^)-]*\).*/\1/p' debian/changelog 2>/dev/null)
base=${base:-0.1}
if git rev-parse --git-dir >/dev/null 2>&1; then
	if d=$(git describe --tags --dirty 2>/dev/null); then
		echo "${d#v}"
		exit 0
	fi
	h=$(git rev-parse --short HEAD 2>/dev/null)
	if [ -n "$h" ]; then
		dirty=
		git diff-index --quiet HEAD -- 2>/dev/null || dirty=.dirty
		echo "$base+git.$h$dirty"
		exit 0
	fi
fi
echo "$base"

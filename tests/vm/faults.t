#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Allocation failures (fail-nth) injected into configfs, bind, open and
# the ioctls, on the sanitizer kernel
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 600 tests/vm/guest/faults.sh

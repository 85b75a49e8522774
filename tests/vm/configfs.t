#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The configfs attributes of the ccid function, in the VM.
cd "$(dirname "$0")/../.." || exit 1
exec tests/vm/run-vm --timeout 300 tests/vm/guest/configfs.sh

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The packaged unit ccidctl@NAME.service under a running systemd (PID 1
# of the VM): start, reload, stop; DynamicUser in the group ccid
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --systemd --timeout 600 tests/vm/guest/systemd.sh

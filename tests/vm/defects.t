#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One check per defect of the kernel-reach review (EFAULT, abort resync,
# queue errors, reset races, unbind waiting, rebinding, features)
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 420 tests/vm/guest/defects.sh

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dwMaxCCIDMessageLength 271: extended APDUs chained both ways, raw and through pcscd
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 300 tests/vm/guest/chaining.sh

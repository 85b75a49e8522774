#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# pcscd + libccid + pyscard/pcsc_scan/opensc-tool against the gadget: readers, ATR, APDUs
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 300 tests/vm/guest/pcsc-basic.sh

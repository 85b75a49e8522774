#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# pcscd + pyscard: concurrent slots, a 10-s answer (time extension), the card program killed mid-APDU
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 300 tests/vm/guest/pcsc-timing.sh

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ccidctl passthrough over vpcd with vsmartcard's vicc: same ATR and responses as through vsmartcard's own vpcd driver, both connection directions
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 300 tests/vm/guest/ccidctl-vpcd.sh

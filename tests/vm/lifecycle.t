#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# UDC unbind/rebind and function removal with /dev/ccidgN open; rmmod; reload
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 240 tests/vm/guest/lifecycle.sh

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# raw libusb CCID: malformed messages, class requests, abort, time extension, hot-plug notify
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 240 tests/vm/guest/rawusb.sh

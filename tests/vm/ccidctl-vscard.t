#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ccidctl mode passthrough (VSCard) over tcp both ways and unix: three cards on two controllers, one daemon; providers come and go
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 300 tests/vm/guest/ccidctl-vscard.sh

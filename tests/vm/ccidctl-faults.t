#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ccidctl against providers, networks and systems that misbehave (issue 10): pcscd on the USB host side sees errors at once, slots freed, sockets safe
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 900 tests/vm/guest/ccidctl-faults.sh "$@"

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ccidctl reload and SIGHUP: cards inserted, replaced and ejected by editing the XML while an unchanged card's pyscard session goes on without a reset
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 600 tests/vm/guest/ccidctl-reload.sh

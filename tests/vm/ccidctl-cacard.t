#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ccidctl modes host-certificates (NSS certificates) and host (a SoftHSM2 token), end to end through pcscd + libccid + OpenSC
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 300 tests/vm/guest/ccidctl-cacard.sh

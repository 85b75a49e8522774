#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ccidctl passthrough over TLS (tls='yes', libvirt's chardev x509 layout): OpenSC signs through it, untrusted providers are refused, nothing else disturbed
cd "$(dirname "$0")/../.." && exec tests/vm/run-vm --timeout 600 tests/vm/guest/ccidctl-tls.sh

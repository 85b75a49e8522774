#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mknssdb.sh DIR [PASSWORD]: a fresh NSS database in DIR with three
# self-signed RSA-2048 certificates and their keys, nicknamed cert1, cert2
# and cert3 (the names libvirt's examples use). Without PASSWORD the
# database has none. Used by the demo and the host-certificates tests.
set -eu
dir=$1
pw=${2:-}
mkdir -p "$dir"
rm -f "$dir/cert9.db" "$dir/key4.db" "$dir/pkcs11.txt"
pwfile=$(mktemp)
noise=$(mktemp)
trap 'rm -f "$pwfile" "$noise"' EXIT
printf '%s\n' "$pw" > "$pwfile"
if [ -n "$pw" ]; then
	certutil -N -d "sql:$dir" -f "$pwfile"
else
	certutil -N -d "sql:$dir" --empty-password
fi
for i in 1 2 3; do
	head -c 2048 /dev/urandom > "$noise"
	certutil -S -d "sql:$dir" -f "$pwfile" -z "$noise" -x -t "CT,CT,CT" \
		-k rsa -g 2048 -v 24 -m "$i$$" \
		-s "CN=ccid-gadget test user $i,O=ccid-gadget" -n "cert$i" \
		--keyUsage digitalSignature,keyEncipherment,dataEncipherment >/dev/null 2>&1 ||
		{ echo "mknssdb: certutil could not make cert$i in $dir" >&2; exit 1; }
done

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mkcerts.sh DIR: x509 credentials for the TLS tests, made now with
# openssl (never committed), laid out as libvirt's chardev TLS directory:
#
#   DIR/ca-cert.pem                   the test CA
#   DIR/server-cert.pem, -key.pem     CN=ccidctl, SAN DNS:localhost IP:127.0.0.1
#   DIR/client-cert.pem, -key.pem     CN=card provider (clientAuth)
#   DIR/rogue/ca-cert.pem             another CA, that nobody trusts
#   DIR/rogue/client-cert.pem, -key   a client certificate from it
#   DIR/rogue/server-cert.pem, -key   a server certificate from it
#   DIR/wrongname/server-cert.pem, -key  from the test CA, for otherhost only
#   DIR/wrongname/ca-cert.pem         the test CA (a copy)
#
# EC P-256 keys: quick to make, even in the VM.
set -eu
dir=$1
command -v openssl >/dev/null || { echo "mkcerts: openssl is missing (Debian openssl)" >&2; exit 1; }
mkdir -p "$dir/rogue" "$dir/wrongname"
cd "$dir"
days=30

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca NAME SUBJECT: a self-signed CA
ca() {
	key "$1-key.pem"
	openssl req -x509 -new -key "$1-key.pem" -out "$1-cert.pem" -days $days \
		-subj "$2" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf CA_PREFIX OUT_PREFIX SUBJECT EXTENSIONS
leaf() {
	key "$2-key.pem"
	openssl req -new -key "$2-key.pem" -out "$2.csr" -subj "$3" 2>/dev/null
	printf '%s\n' "$4" > "$2.ext"
	openssl x509 -req -in "$2.csr" -CA "$1-cert.pem" -CAkey "$1-key.pem" \
		-CAcreateserial -out "$2-cert.pem" -days $days -extfile "$2.ext" 2>/dev/null
	rm -f "$2.csr" "$2.ext"
}

SRV='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1'
CLI='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=clientAuth'

ca ca "/O=ccid-gadget tests/CN=test CA"
leaf ca server "/O=ccid-gadget tests/CN=ccidctl" "$SRV"
leaf ca client "/O=ccid-gadget tests/CN=card provider" "$CLI"
ca rogue/ca "/O=nobody/CN=rogue CA"
leaf rogue/ca rogue/client "/O=nobody/CN=rogue provider" "$CLI"
leaf rogue/ca rogue/server "/O=nobody/CN=rogue server" "$SRV"
leaf ca wrongname/server "/O=ccid-gadget tests/CN=otherhost" 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth
subjectAltName=DNS:otherhost'
cp ca-cert.pem wrongname/ca-cert.pem
rm -f ca-cert.srl rogue/ca-cert.srl
# the CAs' keys are not needed any more
rm -f ca-key.pem rogue/ca-key.pem
chmod 600 ./*-key.pem rogue/*-key.pem wrongname/*-key.pem

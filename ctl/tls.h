/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tls.h -- TLS for tcp chardevs with tls='yes', on GnuTLS
 *
 * The credentials are x509 files laid out as libvirt lays out its chardev
 * TLS directory (qemu.conf's chardev_tls_x509_cert_dir, by default
 * /etc/pki/libvirt-chardev) and as QEMU's tls-creds-x509 object reads it:
 *
 *   ca-cert.pem      the CA(s) a peer's certificate must chain to (required)
 *   ca-crl.pem       revoked certificates (optional)
 *   server-cert.pem  our certificate and key when ccidctl listens
 *   server-key.pem   (mode='bind'; required)
 *   client-cert.pem  our certificate and key when ccidctl connects
 *   client-key.pem   (mode='connect'; optional, both or neither)
 *
 * With verification on (the default, as libvirt's chardev_tls_x509_verify)
 * a listening card requires a client certificate that chains to the CA,
 * and a connecting card requires the server's certificate to chain to the
 * CA and to name the host it connects to. Keys must not be encrypted.
 *
 * Sessions run on non-blocking sockets: every call returns -EAGAIN when it
 * must wait, and tls_want_write() says for what.
 */
#ifndef CCIDCTL_TLS_H
#define CCIDCTL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum tls_endpoint {
	TLS_SERVER,		/* ccidctl listens (mode='bind') */
	TLS_CLIENT,		/* ccidctl connects (mode='connect') */
};

struct tls_creds;
struct tls_session;

/*
 * Load the credentials of one endpoint from @dir. NULL on failure, with
 * the reason (file and problem) in @err.
 */
struct tls_creds *tls_creds_load(const char *dir, enum tls_endpoint ep,
				 bool verify, char *err, size_t errlen);
void tls_creds_free(struct tls_creds *c);

/*
 * A session over the connected socket @fd (not owned). @hostname: for a
 * client, the name or address the server's certificate must carry.
 */
struct tls_session *tls_session_new(struct tls_creds *c, int fd,
				    const char *hostname, char *err,
				    size_t errlen);
void tls_session_free(struct tls_session *s);

/* 0 when the handshake is done, -EAGAIN, or -EPROTO (see tls_error()) */
int tls_handshake(struct tls_session *s);
/* After -EAGAIN: true if the session waits to write, else to read */
bool tls_want_write(const struct tls_session *s);
/* > 0 bytes, 0 at the end of the stream, -EAGAIN, or -EPROTO */
ssize_t tls_recv(struct tls_session *s, void *buf, size_t len);
/* > 0 bytes taken, -EAGAIN (call again with the same bytes), -EPROTO */
ssize_t tls_send(struct tls_session *s, const void *buf, size_t len);
/* Bytes already decrypted and waiting to be read */
size_t tls_pending(const struct tls_session *s);
/* What went wrong last (handshake, verification, record) */
const char *tls_error(const struct tls_session *s);
/* Who the peer is, from its certificate ("" when it sent none) */
const char *tls_peer(const struct tls_session *s);

#endif /* CCIDCTL_TLS_H */

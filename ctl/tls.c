// SPDX-License-Identifier: GPL-2.0
/*
 * tls.c -- TLS for tcp chardevs with tls='yes', on GnuTLS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls.h"

struct tls_creds {
	gnutls_certificate_credentials_t x509;
	enum tls_endpoint ep;
	bool verify;
};

struct tls_session {
	gnutls_session_t s;
	struct tls_creds *creds;
	char err[256];
	char peer[256];
};

static bool readable(const char *path)
{
	return access(path, R_OK) == 0;
}

struct tls_creds *tls_creds_load(const char *dir, enum tls_endpoint ep,
				 bool verify, char *err, size_t errlen)
{
	const char *cert = ep == TLS_SERVER ? "server-cert.pem" : "client-cert.pem";
	const char *key = ep == TLS_SERVER ? "server-key.pem" : "client-key.pem";
	char ca[4096], crl[4096], cp[4096], kp[4096];
	struct tls_creds *c;
	struct stat st;
	int r;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "TLS credentials directory %s: %s", dir,
			 errno ? strerror(errno) : "not a directory");
		return NULL;
	}
	snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir);
	snprintf(crl, sizeof(crl), "%s/ca-crl.pem", dir);
	snprintf(cp, sizeof(cp), "%s/%s", dir, cert);
	snprintf(kp, sizeof(kp), "%s/%s", dir, key);

	c = calloc(1, sizeof(*c));
	if (!c || gnutls_certificate_allocate_credentials(&c->x509) < 0) {
		snprintf(err, errlen, "out of memory");
		free(c);
		return NULL;
	}
	c->ep = ep;
	c->verify = verify;

	if (!readable(ca)) {
		snprintf(err, errlen, "%s: %s (the CA that peers' certificates chain to)",
			 ca, strerror(errno));
		goto fail;
	}
	r = gnutls_certificate_set_x509_trust_file(c->x509, ca, GNUTLS_X509_FMT_PEM);
	if (r <= 0) {
		snprintf(err, errlen, "%s: %s", ca,
			 r == 0 ? "no certificate in it" : gnutls_strerror(r));
		goto fail;
	}
	if (readable(crl)) {
		r = gnutls_certificate_set_x509_crl_file(c->x509, crl,
							 GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", crl, gnutls_strerror(r));
			goto fail;
		}
	}
	if (ep == TLS_CLIENT && access(cp, F_OK) < 0 && access(kp, F_OK) < 0)
		return c;	/* a client certificate is optional */
	if (!readable(cp)) {
		snprintf(err, errlen, "%s: %s", cp, strerror(errno));
		goto fail;
	}
	if (!readable(kp)) {
		snprintf(err, errlen, "%s: %s", kp, strerror(errno));
		goto fail;
	}
	r = gnutls_certificate_set_x509_key_file(c->x509, cp, kp,
						 GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		snprintf(err, errlen, "%s with %s: %s%s", cp, kp,
			 gnutls_strerror(r),
			 r == GNUTLS_E_DECRYPTION_FAILED ||
			 r == GNUTLS_E_PK_INVALID_PRIVKEY ?
			 " (an encrypted key is not supported)" : "");
		goto fail;
	}
	return c;
fail:
	tls_creds_free(c);
	return NULL;
}

void tls_creds_free(struct tls_creds *c)
{
	if (!c)
		return;
	gnutls_certificate_free_credentials(c->x509);
	free(c);
}

static bool is_ip(const char *h)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

struct tls_session *tls_session_new(struct tls_creds *c, int fd,
				    const char *hostname, char *err,
				    size_t errlen)
{
	struct tls_session *t = calloc(1, sizeof(*t));
	unsigned int flags = GNUTLS_NONBLOCK |
		(c->ep == TLS_SERVER ? GNUTLS_SERVER : GNUTLS_CLIENT);
	int r;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->creds = c;
	r = gnutls_init(&t->s, flags);
	if (r < 0)
		goto fail;
	r = gnutls_set_default_priority(t->s);
	if (r < 0)
		goto fail;
	r = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, c->x509);
	if (r < 0)
		goto fail;
	if (c->ep == TLS_SERVER) {
		gnutls_certificate_server_set_request(t->s, c->verify ?
						      GNUTLS_CERT_REQUIRE :
						      GNUTLS_CERT_IGNORE);
		if (c->verify)
			gnutls_session_set_verify_cert(t->s, NULL, 0);
	} else {
		if (hostname && *hostname && !is_ip(hostname))
			gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, hostname,
					       strlen(hostname));
		if (c->verify)
			gnutls_session_set_verify_cert(t->s, hostname, 0);
	}
	gnutls_transport_set_int(t->s, fd);
	return t;
fail:
	snprintf(err, errlen, "TLS session: %s", gnutls_strerror(r));
	if (t->s)
		gnutls_deinit(t->s);
	free(t);
	return NULL;
}

void tls_session_free(struct tls_session *t)
{
	if (!t)
		return;
	gnutls_deinit(t->s);
	free(t);
}

static void note_peer(struct tls_session *t)
{
	const gnutls_datum_t *certs;
	unsigned int n = 0;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { NULL, 0 };

	t->peer[0] = '\0';
	certs = gnutls_certificate_get_peers(t->s, &n);
	if (!certs || !n || gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn2(crt, &dn) == 0) {
		snprintf(t->peer, sizeof(t->peer), "%.*s", (int)dn.size,
			 (const char *)dn.data);
		gnutls_free(dn.data);
	}
	gnutls_x509_crt_deinit(crt);
}

int tls_handshake(struct tls_session *t)
{
	int r;

	do {
		r = gnutls_handshake(t->s);
	} while (r == GNUTLS_E_INTERRUPTED);
	if (r == GNUTLS_E_SUCCESS) {
		note_peer(t);
		return 0;
	}
	if (r == GNUTLS_E_AGAIN)
		return -EAGAIN;
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		unsigned int status = gnutls_session_get_verify_cert_status(t->s);
		gnutls_datum_t out = { NULL, 0 };

		if (gnutls_certificate_verification_status_print(status,
								 GNUTLS_CRT_X509,
								 &out, 0) == 0) {
			int n = (int)out.size;

			while (n > 0 && (out.data[n - 1] == ' ' || out.data[n - 1] == '\n' ||
					 out.data[n - 1] == '\0'))
				n--;
			snprintf(t->err, sizeof(t->err),
				 "the peer's certificate is not trusted: %.*s", n,
				 (const char *)out.data);
			gnutls_free(out.data);
		} else {
			snprintf(t->err, sizeof(t->err),
				 "the peer's certificate is not trusted");
		}
		return -EPROTO;
	}
	if (r == GNUTLS_E_NO_CERTIFICATE_FOUND ||
	    r == GNUTLS_E_CERTIFICATE_REQUIRED) {
		snprintf(t->err, sizeof(t->err),
			 "the peer sent no certificate (one is required: %s)",
			 gnutls_strerror(r));
		return -EPROTO;
	}
	snprintf(t->err, sizeof(t->err), "TLS handshake failed: %s",
		 gnutls_strerror(r));
	return -EPROTO;
}

bool tls_want_write(const struct tls_session *t)
{
	return gnutls_record_get_direction(t->s) == 1;
}

ssize_t tls_recv(struct tls_session *t, void *buf, size_t len)
{
	ssize_t r;

	do {
		r = gnutls_record_recv(t->s, buf, len);
	} while (r == GNUTLS_E_INTERRUPTED);
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_AGAIN)
		return -EAGAIN;
	if (r == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;	/* closed without a close_notify: still the end */
	snprintf(t->err, sizeof(t->err), "TLS: %s", gnutls_strerror((int)r));
	return -EPROTO;
}

ssize_t tls_send(struct tls_session *t, const void *buf, size_t len)
{
	ssize_t r;

	do {
		r = gnutls_record_send(t->s, buf, len);
	} while (r == GNUTLS_E_INTERRUPTED);
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_AGAIN)
		return -EAGAIN;
	snprintf(t->err, sizeof(t->err), "TLS: %s", gnutls_strerror((int)r));
	return -EPROTO;
}

size_t tls_pending(const struct tls_session *t)
{
	return gnutls_record_check_pending(t->s);
}

const char *tls_error(const struct tls_session *t)
{
	return t->err[0] ? t->err : "no error";
}

const char *tls_peer(const struct tls_session *t)
{
	return t->peer;
}

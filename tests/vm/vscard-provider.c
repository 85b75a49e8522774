// SPDX-License-Identifier: GPL-2.0
/*
 * vscard-provider -- a card owner for tests: the side of QEMU's VSCard
 * protocol that vscclient (or a SPICE client) plays, built on libcacard.
 * It emulates a CAC card from three NSS certificates and offers it over a
 * tcp or unix stream to a card user (QEMU's ccid-card-passthru, or
 * ccidctl in mode passthrough).
 *
 *   vscard-provider (-d DB [-c CERT1,CERT2,CERT3] | --echo)
 *                   [--tls DIR [--tls-name NAME]] (--connect | --listen) ADDR
 *
 * ADDR is host:port or unix:PATH. Runs until the peer goes or SIGTERM.
 *
 * --echo: no libcacard; a card with the ATR 3B 80 80 01 01 that answers
 * every APDU with 90 00 at once (for measuring the path, not the card).
 * --tls DIR: TLS with GnuTLS, the x509 files in DIR laid out as libvirt's
 * chardev TLS directory: ca-cert.pem, and client-cert.pem/client-key.pem
 * when connecting (server-cert.pem/server-key.pem when listening). The
 * peer's certificate must chain to ca-cert.pem; when connecting it must
 * name the host (or --tls-name). The certificate in DIR is always
 * offered, whatever CAs the peer names, so that a test can offer one the
 * peer does not trust.
 *
 * Deliberately independent of ccidctl's code: it encodes the protocol
 * itself from libcacard's vscard_common.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <libcacard.h>

static int sock = -1;
static gnutls_session_t tls;

static int write_all(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = tls ? gnutls_record_send(tls, p, len) :
				  send(sock, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR || n == GNUTLS_E_AGAIN ||
			    n == GNUTLS_E_INTERRUPTED)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Read exactly len bytes, through a buffer: one recv() usually brings a
 * whole message, header and payload, instead of one call for each.
 */
static unsigned char rbuf[80000];
static size_t rhave, rpos;

static int read_all(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		size_t take;

		if (rpos == rhave) {
			ssize_t n = tls ? gnutls_record_recv(tls, rbuf, sizeof(rbuf)) :
					  recv(sock, rbuf, sizeof(rbuf), 0);

			if (n == 0)
				return -1;
			if (n < 0) {
				if (errno == EINTR || n == GNUTLS_E_AGAIN ||
				    n == GNUTLS_E_INTERRUPTED)
					continue;
				if (tls)
					fprintf(stderr, "vscard-provider: TLS: %s\n",
						gnutls_strerror((int)n));
				return -1;
			}
			rhave = (size_t)n;
			rpos = 0;
		}
		take = rhave - rpos < len ? rhave - rpos : len;
		memcpy(p, rbuf + rpos, take);
		rpos += take;
		p += take;
		len -= take;
	}
	return 0;
}

/* One message, header and payload in one send() */
static int send_msg(uint32_t type, uint32_t reader, const void *data,
		    uint32_t len)
{
	unsigned char *buf = malloc(12 + len);
	uint32_t h[3] = { htonl(type), htonl(reader), htonl(len) };
	int rc;

	if (!buf)
		return -1;
	memcpy(buf, h, 12);
	if (len)
		memcpy(buf + 12, data, len);
	rc = write_all(buf, 12 + len);
	free(buf);
	return rc;
}

static int open_stream(const char *addr, int listen_mode)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", addr + 5);
		len = sizeof(*un);
		if (listen_mode)
			unlink(un->sun_path);
	} else {
		char host[256], *colon;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

		snprintf(host, sizeof(host), "%s", addr);
		colon = strrchr(host, ':');
		if (!colon) {
			fprintf(stderr, "vscard-provider: address %s: want host:port or unix:PATH\n", addr);
			return -1;
		}
		*colon = '\0';
		if (getaddrinfo(host, colon + 1, &hints, &ai)) {
			fprintf(stderr, "vscard-provider: cannot resolve %s\n", addr);
			return -1;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		len = ai->ai_addrlen;
		freeaddrinfo(ai);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (ss.ss_family != AF_UNIX) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (!listen_mode) {
		if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
			perror("vscard-provider: connect");
			close(fd);
			return -1;
		}
		return fd;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1) < 0) {
		perror("vscard-provider: listen");
		close(fd);
		return -1;
	}
	fprintf(stderr, "vscard-provider: listening on %s\n", addr);
	{
		int c = accept(fd, NULL, NULL);

		close(fd);
		if (c >= 0 && ss.ss_family != AF_UNIX)
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return c;
	}
}

static gnutls_pcert_st offer_pcert;
static gnutls_privkey_t offer_key;

static int always_offer(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn,
			int nreqs, const gnutls_pk_algorithm_t *algos, int nalgos,
			gnutls_pcert_st **pcert, unsigned int *npcert,
			gnutls_privkey_t *key)
{
	(void)s;
	(void)req_ca_rdn;
	(void)nreqs;
	(void)algos;
	(void)nalgos;
	*pcert = &offer_pcert;
	*npcert = 1;
	*key = offer_key;
	return 0;
}

/* TLS over sock: 0, or -1 with the reason on stderr */
static int tls_start(const char *dir, bool server, const char *name)
{
	gnutls_certificate_credentials_t x;
	gnutls_datum_t c = { NULL, 0 }, k = { NULL, 0 };
	char ca[600], cp[600], kp[600];
	int r;

	snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir);
	snprintf(cp, sizeof(cp), "%s/%s-cert.pem", dir, server ? "server" : "client");
	snprintf(kp, sizeof(kp), "%s/%s-key.pem", dir, server ? "server" : "client");
	gnutls_certificate_allocate_credentials(&x);
	r = gnutls_certificate_set_x509_trust_file(x, ca, GNUTLS_X509_FMT_PEM);
	if (r <= 0) {
		fprintf(stderr, "vscard-provider: %s: %s\n", ca, r ? gnutls_strerror(r) : "no CA");
		return -1;
	}
	if (server) {
		r = gnutls_certificate_set_x509_key_file(x, cp, kp, GNUTLS_X509_FMT_PEM);
	} else if (access(cp, R_OK) == 0) {
		r = gnutls_load_file(cp, &c);
		r = r ? r : gnutls_load_file(kp, &k);
		r = r ? r : gnutls_pcert_import_x509_raw(&offer_pcert, &c, GNUTLS_X509_FMT_PEM, 0);
		r = r ? r : gnutls_privkey_init(&offer_key);
		r = r ? r : gnutls_privkey_import_x509_raw(offer_key, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
		if (!r)
			gnutls_certificate_set_retrieve_function2(x, always_offer);
	}
	if (r < 0) {
		fprintf(stderr, "vscard-provider: %s: %s\n", cp, gnutls_strerror(r));
		return -1;
	}
	gnutls_init(&tls, server ? GNUTLS_SERVER : GNUTLS_CLIENT);
	gnutls_set_default_priority(tls);
	gnutls_credentials_set(tls, GNUTLS_CRD_CERTIFICATE, x);
	if (server)
		gnutls_certificate_server_set_request(tls, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_cert(tls, server ? NULL : name, 0);
	gnutls_transport_set_int(tls, sock);
	gnutls_handshake_set_timeout(tls, 20000);
	do {
		r = gnutls_handshake(tls);
	} while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
	if (r < 0) {
		fprintf(stderr, "vscard-provider: TLS handshake: %s\n", gnutls_strerror(r));
		return -1;
	}
	fprintf(stderr, "vscard-provider: TLS session established\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "certs", required_argument, NULL, 'c' },
		{ "connect", required_argument, NULL, 'C' },
		{ "listen", required_argument, NULL, 'L' },
		{ "echo", no_argument, NULL, 'e' },
		{ "tls", required_argument, NULL, 't' },
		{ "tls-name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *certs = "cert1,cert2,cert3", *addr = NULL;
	const char *tls_dir = NULL, *tls_name = NULL;
	int listen_mode = 0, echo = 0, reader_added = 0, c;
	char emul[1024];
	VCardEmulOptions *eo;
	VReader *reader = NULL;
	VEvent *ev;
	unsigned char atr[64], *buf, *rsp;
	int atr_len = sizeof(atr);

	while ((c = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'c':
			certs = optarg;
			break;
		case 'C':
			addr = optarg;
			break;
		case 'L':
			addr = optarg;
			listen_mode = 1;
			break;
		case 'e':
			echo = 1;
			break;
		case 't':
			tls_dir = optarg;
			break;
		case 'n':
			tls_name = optarg;
			break;
		default:
			return 2;
		}
	}
	if ((!db && !echo) || !addr) {
		fprintf(stderr, "usage: vscard-provider (-d DB [-c C1,C2,C3] | --echo) [--tls DIR [--tls-name NAME]] (--connect|--listen) ADDR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (echo) {
		static const unsigned char echo_atr[] = { 0x3b, 0x80, 0x80, 0x01, 0x01 };

		memcpy(atr, echo_atr, sizeof(echo_atr));
		atr_len = sizeof(echo_atr);
		goto connect;
	}
	snprintf(emul, sizeof(emul),
		 "db=\"%s\" use_hw=no soft=(,Provider Reader,CAC,,%s)", db, certs);
	eo = vcard_emul_options(emul);
	if (!eo || vcard_emul_init(eo) != VCARD_EMUL_OK) {
		fprintf(stderr, "vscard-provider: libcacard cannot open %s\n", db);
		return 1;
	}
	while ((ev = vevent_get_next_vevent())) {
		if (ev->type == VEVENT_CARD_INSERT) {
			reader = vreader_reference(ev->reader);
			/* the card's ATR from a power-on, as vscclient sends it */
			vreader_power_on(reader, atr, &atr_len);
		}
		vevent_delete(ev);
	}
	if (!reader) {
		fprintf(stderr, "vscard-provider: libcacard made no card\n");
		return 1;
	}

connect:
	sock = open_stream(addr, listen_mode);
	if (sock < 0)
		return 1;
	if (tls_dir) {
		char host[256], *colon;

		snprintf(host, sizeof(host), "%s", addr);
		colon = strrchr(host, ':');
		if (colon)
			*colon = '\0';
		if (tls_start(tls_dir, listen_mode, tls_name ? tls_name : host))
			return 1;
	}
	buf = malloc(70000);
	rsp = malloc(70000);
	if (!buf || !rsp)
		return 1;
	{
		/* Init: magic "VSCD", version 2, capabilities 0 */
		unsigned char init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0 };

		if (send_msg(1, 0xffffffff, init, 12) ||
		    send_msg(3, 0xffffffff, "Provider Reader", 15))
			return 1;
	}
	for (;;) {
		uint32_t h[3], type, reader_id, len;

		if (read_all(h, 12))
			break;
		type = ntohl(h[0]);
		reader_id = ntohl(h[1]);
		len = ntohl(h[2]);
		if (len > 70000 || read_all(buf, len)) {
			fprintf(stderr, "vscard-provider: bad message from the peer\n");
			break;
		}
		switch (type) {
		case 1:		/* Init from the card user */
			break;
		case 2:		/* Error(0) acknowledges ReaderAdd: insert */
			if (len == 4 && !buf[0] && !buf[1] && !buf[2] && !buf[3] &&
			    !reader_added) {
				/* later Error(0)s acknowledge the ATR and others */
				reader_added = 1;
				if (send_msg(5, reader_id, atr, atr_len))
					goto out;
				fprintf(stderr, "vscard-provider: card offered\n");
			} else if (len == 4 && (buf[0] | buf[1] | buf[2] | buf[3])) {
				fprintf(stderr, "vscard-provider: the card user reports error %u\n",
					(unsigned int)buf[3] | (unsigned int)buf[2] << 8);
			}
			break;
		case 7: {	/* APDU */
			int rl = 70000;

			if (echo) {
				rl = 0;
			} else if (vreader_xfr_bytes(reader, buf, len, rsp, &rl) != VREADER_OK) {
				rl = 0;
			}
			if (echo) {
				rsp[0] = 0x90;
				rsp[1] = 0x00;
				rl = 2;
			}
			if (rl < 2) {
				rsp[0] = 0x6f;
				rsp[1] = 0x00;
				rl = 2;
			}
			if (send_msg(7, reader_id, rsp, rl))
				goto out;
			break;
		}
		case 8:		/* Flush */
			send_msg(9, reader_id, NULL, 0);
			break;
		default:
			break;
		}
	}
out:
	fprintf(stderr, "vscard-provider: peer gone\n");
	return 0;
}

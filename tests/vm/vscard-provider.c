// SPDX-License-Identifier: GPL-2.0
/*
 * vscard-provider -- a card owner for tests: the side of QEMU's VSCard
 * protocol that vscclient (or a SPICE client) plays, built on libcacard.
 * It emulates a CAC card from three NSS certificates and offers it over a
 * tcp or unix stream to a card user (QEMU's ccid-card-passthru, or
 * ccidctl in mode passthrough).
 *
 *   vscard-provider -d DB [-c CERT1,CERT2,CERT3] (--connect | --listen) ADDR
 *
 * ADDR is host:port or unix:PATH. Runs until the peer goes or SIGTERM.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libcacard.h>

static int sock = -1;

static int write_all(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int read_all(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = recv(sock, p, len, 0);

		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "certs", required_argument, NULL, 'c' },
		{ "connect", required_argument, NULL, 'C' },
		{ "listen", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *certs = "cert1,cert2,cert3", *addr = NULL;
	int listen_mode = 0, c;
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
		default:
			return 2;
		}
	}
	if (!db || !addr) {
		fprintf(stderr, "usage: vscard-provider -d DB [-c C1,C2,C3] (--connect|--listen) ADDR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
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

	sock = open_stream(addr, listen_mode);
	if (sock < 0)
		return 1;
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
			if (send_msg(5, reader_id, atr, atr_len))
				goto out;
			fprintf(stderr, "vscard-provider: card offered\n");
			break;
		case 7: {	/* APDU */
			int rl = 70000;

			if (vreader_xfr_bytes(reader, buf, len, rsp, &rl) != VREADER_OK)
				rl = 0;
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

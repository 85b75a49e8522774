// SPDX-License-Identifier: GPL-2.0
/*
 * pt-floor -- the least a passthrough card can cost, for `make bench`:
 * a relay between /dev/ccidg<N> and one VSCard provider on a unix
 * socket, with nothing a daemon needs (no event loop, no other card, no
 * deadline, no reconnection). It bounds what ccidctl's passthrough can
 * reach on the same rig: the provider's hop is in both.
 *
 *   pt-floor [--poll] DEVICE SOCKET
 *
 * It listens on SOCKET, takes one provider (vscard-provider --echo),
 * acknowledges its reader, inserts its card in slot 0 with the ATR it
 * sends, and relays every APDU: read() the event, send() it to the
 * provider in one message, recv() the answer, write() the reply. By
 * default every call blocks (4 system calls per APDU, the minimum);
 * with --poll it waits in poll() on both descriptors before each read,
 * the shape of a daemon that serves several cards (6 per APDU).
 * Runs until the provider or the device goes, or SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/usb/g_ccid.h>

#define VSC_INIT	1
#define VSC_ERROR	2
#define VSC_READER_ADD	3
#define VSC_ATR		5
#define VSC_APDU	7

static int dev = -1, sock = -1;
static bool use_poll;
static uint8_t msg[12 + CCIDG_MAX_RSP_APDU];
static uint8_t evbuf[CCIDG_EVENT_MAX];
static uint8_t rpbuf[CCIDG_REPLY_MAX];

static void die(const char *what)
{
	fprintf(stderr, "pt-floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* wait until fd is readable (--poll only) */
static void wait_in(int fd)
{
	struct pollfd p[2] = { { dev, POLLIN, 0 }, { sock, POLLIN, 0 } };

	if (!use_poll)
		return;
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll");
		if (p[fd == dev ? 0 : 1].revents)
			return;
	}
}

static int recv_all(uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = recv(sock, p, len, 0);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* one VSCard message: its type, its payload in msg + 12, its length */
static int recv_msg(uint32_t *type, uint32_t *len)
{
	uint32_t h[3];

	wait_in(sock);
	if (recv_all(msg, 12))
		return -1;
	memcpy(h, msg, 12);
	*type = ntohl(h[0]);
	*len = ntohl(h[2]);
	if (*len > sizeof(msg) - 12)
		return -1;
	return recv_all(msg + 12, *len);
}

static int send_msg(uint32_t type, const void *data, uint32_t len)
{
	uint32_t h[3] = { htonl(type), 0, htonl(len) };

	memcpy(msg, h, 12);
	memcpy(msg + 12, data, len);
	return send(sock, msg, 12 + len, MSG_NOSIGNAL) == (ssize_t)(12 + len) ? 0 : -1;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int s;

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	unlink(path);
	if (l < 0 || bind(l, (struct sockaddr *)&un, sizeof(un)) || listen(l, 1))
		die(path);
	s = accept(l, NULL, NULL);
	if (s < 0)
		die("accept");
	close(l);
	return s;
}

int main(int argc, char **argv)
{
	static const uint8_t zero[4];
	struct ccidg_card card = { 0 };
	uint32_t type, len;
	int a = 1;

	if (argc > 1 && !strcmp(argv[1], "--poll")) {
		use_poll = true;
		a++;
	}
	if (argc != a + 2) {
		fprintf(stderr, "usage: pt-floor [--poll] DEVICE SOCKET\n");
		return 2;
	}
	dev = open(argv[a], O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die(argv[a]);
	sock = listen_unix(argv[a + 1]);
	/* the provider's Init and ReaderAdd; acknowledge, take its ATR */
	for (;;) {
		if (recv_msg(&type, &len))
			die("the provider went before its ATR");
		if (type == VSC_READER_ADD && send_msg(VSC_ERROR, zero, 4))
			die("send");
		if (type == VSC_ATR && len >= 2 && len <= CCIDG_MAX_ATR)
			break;
	}
	card.atr_len = len;
	memcpy(card.atr, msg + 12, len);
	if (ioctl(dev, CCIDG_IOC_INSERT, &card))
		die("CCIDG_IOC_INSERT");
	fprintf(stderr, "pt-floor: card inserted (%s)\n",
		use_poll ? "poll before each read" : "blocking calls");
	for (;;) {
		struct ccidg_event ev;
		struct ccidg_reply r = { .type = CCIDG_REPLY_APDU };
		ssize_t n;

		wait_in(dev);
		n = read(dev, evbuf, sizeof(evbuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)sizeof(ev))
			break;
		memcpy(&ev, evbuf, sizeof(ev));
		if (ev.type != CCIDG_EV_APDU)
			continue;
		if (send_msg(VSC_APDU, evbuf + sizeof(ev), ev.len))
			break;
		do {
			if (recv_msg(&type, &len))
				goto out;
		} while (type != VSC_APDU);
		r.slot = ev.slot;
		r.id = ev.id;
		r.len = len;
		memcpy(rpbuf, &r, sizeof(r));
		memcpy(rpbuf + sizeof(r), msg + 12, len);
		if (write(dev, rpbuf, sizeof(r) + len) < 0)
			break;
	}
out:
	fprintf(stderr, "pt-floor: provider or device gone\n");
	return 0;
}

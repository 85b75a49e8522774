// SPDX-License-Identifier: GPL-2.0
/*
 * pt-floor -- the least a passthrough card can cost, for `make bench`:
 * a relay between /dev/ccidg<N> and one VSCard provider on a unix
 * socket, with nothing a daemon needs (no other card, no deadline, no
 * reconnection, no layers). It bounds what ccidctl's passthrough can
 * reach on the same rig: the provider's hop is in both.
 *
 *   pt-floor DEVICE SOCKET
 *   pt-floor --thread DEVICE
 *
 * It listens on SOCKET, takes one provider (vscard-provider --echo),
 * acknowledges its reader, inserts its card in slot 0 with the ATR it
 * sends, and relays every APDU: read() the event, send() it to the
 * provider in one message, recv() the answer, write() the reply. It waits
 * for both descriptors in GLib's main loop, as ccidctl does, so that the
 * two differ only in what ccidctl does beyond relaying. (A relay that
 * blocks in each call, or polls by hand, measured the same here.)
 *
 * --thread: the provider is a thread of this process on the other end of
 * a socketpair, speaking the same VSCard messages as vscard-provider
 * --echo. The relay is unchanged; what goes is the second process (its
 * address space, its scheduling as another program). The row measures
 * whether the cost of a passthrough is that process or the hop itself.
 *
 * Runs until the provider or the device goes, or SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <linux/usb/g_ccid.h>

#define VSC_INIT	1
#define VSC_ERROR	2
#define VSC_READER_ADD	3
#define VSC_ATR		5
#define VSC_APDU	7

static int dev = -1, sock = -1;
static struct ccidg_event cur;	/* the APDU at the provider */
static uint8_t msg[12 + CCIDG_MAX_RSP_APDU];
static uint8_t evbuf[CCIDG_EVENT_MAX];
static uint8_t rpbuf[CCIDG_REPLY_MAX];

static void die(const char *what)
{
	fprintf(stderr, "pt-floor: %s: %s\n", what, strerror(errno));
	exit(1);
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

/* one event from the device; an APDU goes to the provider: 0, or -1 at the end */
static int from_dev(void)
{
	ssize_t n = read(dev, evbuf, sizeof(evbuf));

	if (n < 0 && errno == EINTR)
		return 0;
	if (n < (ssize_t)sizeof(cur))
		return -1;
	memcpy(&cur, evbuf, sizeof(cur));
	if (cur.type != CCIDG_EV_APDU)
		return 0;
	return send_msg(VSC_APDU, evbuf + sizeof(cur), cur.len);
}

/* one message from the provider; an answer goes to the device: 0, or -1 at the end */
static int from_sock(void)
{
	struct ccidg_reply r = { .type = CCIDG_REPLY_APDU };
	uint32_t type, len;

	if (recv_msg(&type, &len))
		return -1;
	if (type != VSC_APDU)
		return 0;
	r.slot = cur.slot;
	r.id = cur.id;
	r.len = len;
	memcpy(rpbuf, &r, sizeof(r));
	memcpy(rpbuf + sizeof(r), msg + 12, len);
	return write(dev, rpbuf, sizeof(r) + len) < 0 ? -1 : 0;
}

/* the device or the provider has something: relay it, or end at a failure */
static gboolean on_ready(gint fd, GIOCondition cond, gpointer loop)
{
	(void)cond;
	if (!(fd == dev ? from_dev() : from_sock()))
		return G_SOURCE_CONTINUE;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

/* a watch as ccidctl's (ctl/loop.h): never blocked while dispatched */
static void watch(int fd, GMainLoop *loop)
{
	GSource *src = g_unix_fd_source_new(fd, G_IO_IN);

	g_source_set_callback(src, (GSourceFunc)(void (*)(void))on_ready, loop,
			      NULL);
	g_source_set_can_recurse(src, TRUE);
	g_source_attach(src, NULL);
	g_source_unref(src);
}

/* --thread: the echo provider's side of the socketpair */
static int echo_fd = -1;

static int echo_send(uint8_t *b, uint32_t type, const void *data, uint32_t len)
{
	uint32_t h[3] = { htonl(type), 0, htonl(len) };

	memcpy(b, h, 12);
	memcpy(b + 12, data, len);
	return send(echo_fd, b, 12 + len, MSG_NOSIGNAL) == (ssize_t)(12 + len) ? 0 : -1;
}

/* Init, ReaderAdd and the ATR, then 90 00 to every APDU, as --echo does */
static void *echo_provider(void *arg)
{
	static const uint8_t atr[] = { 0x3b, 0x80, 0x80, 0x01, 0x01 };
	static const uint8_t init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2 };
	static const uint8_t ok[] = { 0x90, 0x00 };
	static uint8_t b[12 + CCIDG_MAX_RSP_APDU];
	uint32_t h[3], len;
	size_t got;
	ssize_t n;

	(void)arg;
	if (echo_send(b, VSC_INIT, init, sizeof(init)) ||
	    echo_send(b, VSC_READER_ADD, NULL, 0) ||
	    echo_send(b, VSC_ATR, atr, sizeof(atr)))
		return NULL;
	for (;;) {
		for (got = 0, len = 0; got < 12 + len; got += (size_t)n) {
			n = recv(echo_fd, b + got, (got < 12 ? 12 : 12 + len) - got, 0);
			if (n <= 0)
				return NULL;
			if (got + (size_t)n == 12) {
				memcpy(h, b, 12);
				len = ntohl(h[2]);
				if (len > sizeof(b) - 12)
					return NULL;
			}
		}
		if (ntohl(h[0]) == VSC_APDU && echo_send(b, VSC_APDU, ok, sizeof(ok)))
			return NULL;
	}
}

static int start_thread(void)
{
	pthread_t t;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	echo_fd = sv[1];
	errno = pthread_create(&t, NULL, echo_provider, NULL);
	if (errno)
		die("pthread_create");
	return sv[0];
}

int main(int argc, char **argv)
{
	static const uint8_t zero[4];
	struct ccidg_card card = { 0 };
	uint32_t type, len;
	GMainLoop *loop;
	bool thread = argc == 3 && !strcmp(argv[1], "--thread");

	if (argc != 3) {
		fprintf(stderr, "usage: pt-floor DEVICE SOCKET | pt-floor --thread DEVICE\n");
		return 2;
	}
	dev = open(argv[thread ? 2 : 1], O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die(argv[thread ? 2 : 1]);
	sock = thread ? start_thread() : listen_unix(argv[2]);
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
	fprintf(stderr, "pt-floor: card inserted\n");
	loop = g_main_loop_new(NULL, FALSE);
	watch(dev, loop);
	watch(sock, loop);
	g_main_loop_run(loop);
	fprintf(stderr, "pt-floor: provider or device gone\n");
	return 0;
}

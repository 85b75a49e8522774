// SPDX-License-Identifier: GPL-2.0
/*
 * test_passthrough.c -- passthrough cards end to end in one process: the
 * card layer, the passthrough backend, the transport (real sockets, TLS
 * with certificates made now) and GLib's loop, with a recording sink in
 * place of the kernel and providers played by this program.
 *
 * Each test is about one thing a provider, the network or the system can
 * do to a card: answer with an Error, vanish mid-command, answer too
 * much, say nothing, come from an address that is not the first one, take
 * all the descriptors, hold the port, sit at the socket's path, or bring
 * a certificate nobody trusts.
 *
 * Run from the repository root (tests/vm/mkcerts.sh makes the
 * certificates).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "tap.h"

#include "card.h"
#include "vscard.h"

#define CACATR "\x3b\x7a\x18\x00\x00\x73\x66\x74\x65\x20\x63\x64\x31\x34\x34"

static char certs[256];

/* ------------------------------------------------------------------ */
/* the sink: what the kernel would see */

struct rec {
	int inserts, removes, replies, fails, started;
	int start_err;
	char why[700];
	uint32_t reply_id, fail_id;
	uint8_t berror;
	size_t reply_len;
	uint8_t reply[16];
	gint64 fail_at;
};

static int s_insert(void *o, struct card *c, const uint8_t *atr, size_t len)
{
	(void)c;
	(void)atr;
	(void)len;
	((struct rec *)o)->inserts++;
	return 0;
}

static int s_remove(void *o, struct card *c)
{
	(void)c;
	((struct rec *)o)->removes++;
	return 0;
}

static int s_reply(void *o, struct card *c, uint32_t id, const uint8_t *rsp,
		   size_t len)
{
	struct rec *r = o;

	(void)c;
	r->replies++;
	r->reply_id = id;
	r->reply_len = len;
	memcpy(r->reply, rsp, len < sizeof(r->reply) ? len : sizeof(r->reply));
	return 0;
}

static int s_fail(void *o, struct card *c, uint32_t id, uint8_t berror)
{
	struct rec *r = o;

	(void)c;
	r->fails++;
	r->fail_id = id;
	r->berror = berror;
	r->fail_at = g_get_monotonic_time();
	return 0;
}

static void s_started(void *o, struct card *c, int err, const char *why)
{
	struct rec *r = o;

	(void)c;
	r->started++;
	r->start_err = err;
	snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
}

static const struct card_sink_ops sink = {
	.insert = s_insert, .remove = s_remove, .reply = s_reply,
	.fail = s_fail, .started = s_started,
};

/* ------------------------------------------------------------------ */
/* the loop */

static gint64 now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* Run the loop for @ms, or until *@flag becomes >= @want */
static bool run_until(const int *flag, int want, int ms)
{
	gint64 end = now_ms() + ms;

	while (now_ms() < end) {
		if (flag && *flag >= want)
			return true;
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	return flag && *flag >= want;
}

static void run_ms(int ms)
{
	run_until(NULL, 0, ms);
}

/*
 * How long the default main context would sleep in poll() now, in ms
 * (-1: until a descriptor is ready, no timer), by one iteration that
 * does not poll.
 */
static int loop_timeout(void)
{
	GMainContext *ctx = g_main_context_default();
	GPollFD fds[64];
	gint prio, timeout = -2, n;

	if (!g_main_context_acquire(ctx))
		return -2;
	g_main_context_prepare(ctx, &prio);
	n = g_main_context_query(ctx, prio, &timeout, fds, G_N_ELEMENTS(fds));
	if (n > (gint)G_N_ELEMENTS(fds))
		n = G_N_ELEMENTS(fds);
	if (g_main_context_check(ctx, prio, fds, n))
		g_main_context_dispatch(ctx);
	g_main_context_release(ctx);
	return timeout;
}

/* ------------------------------------------------------------------ */
/* cards */

static struct card_env env;

static struct card *pt_card(struct rec *r, enum cfg_chr_type type,
			    enum cfg_chr_mode mode, const char *host,
			    const char *service, const char *path,
			    bool reconnect, bool tls)
{
	struct cfg_card cf;
	struct card *c;

	memset(&cf, 0, sizeof(cf));
	memset(r, 0, sizeof(*r));
	cf.mode = CFG_MODE_PASSTHROUGH;
	cf.wire = CFG_WIRE_VSCARD;
	cf.chr.type = type;
	cf.chr.mode = mode;
	cf.chr.host = (char *)host;
	cf.chr.service = (char *)service;
	cf.chr.path = (char *)path;
	cf.chr.reconnect = reconnect;
	cf.chr.reconnect_timeout = 1;
	cf.chr.tls = tls;
	c = card_new(&env, &cf, &sink, r);
	if (!c || card_start(c)) {
		fprintf(stderr, "cannot start a card\n");
		exit(2);
	}
	return c;
}

static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int listener(const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, addr, &sin.sin_addr);
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* a plain provider, driven between loop iterations */

struct prov {
	int fd;
	uint8_t buf[70000];
	size_t have;
};

static int tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Connect, retrying while the loop runs (the card may not listen yet) */
static bool prov_connect(struct prov *p, int port, int ms)
{
	gint64 end = now_ms() + ms;

	p->have = 0;
	while (now_ms() < end) {
		p->fd = tcp_connect(port);
		if (p->fd >= 0)
			return true;
		run_ms(50);
	}
	return false;
}

static void prov_send(struct prov *p, uint32_t type, const void *data, size_t len)
{
	uint8_t *m = malloc(12 + len);
	ssize_t n;

	if (!m)
		abort();
	n = vsc_encode(m, 12 + len, type, 0, data, len);
	if (n > 0 && send(p->fd, m, (size_t)n, MSG_NOSIGNAL) != n)
		diag("provider: send: %s", strerror(errno));
	free(m);
}

static void prov_hello(struct prov *p)
{
	static const uint8_t init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0 };

	prov_send(p, VSC_INIT, init, sizeof(init));
	prov_send(p, VSC_READER_ADD, NULL, 0);
	prov_send(p, VSC_ATR, CACATR, 15);
}

/*
 * Wait (running the loop) for a message of @type from the card user;
 * other messages are skipped. 1 with its length in *len, 0 on timeout,
 * -1 when the card user closed the connection.
 */
static int prov_wait(struct prov *p, uint32_t type, size_t *len, int ms)
{
	gint64 end = now_ms() + ms;

	while (now_ms() < end) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

		while (p->have >= 12) {
			uint32_t t = (uint32_t)p->buf[3] | (uint32_t)p->buf[2] << 8;
			uint32_t l = (uint32_t)p->buf[8] << 24 | (uint32_t)p->buf[9] << 16 |
				     (uint32_t)p->buf[10] << 8 | p->buf[11];

			if (p->have < 12 + l)
				break;
			memmove(p->buf, p->buf + 12 + l, p->have - 12 - l);
			p->have -= 12 + l;
			if (t == type) {
				if (len)
					*len = l;
				return 1;
			}
		}
		if (poll(&pfd, 1, 0) == 1) {
			ssize_t n = recv(p->fd, p->buf + p->have, sizeof(p->buf) - p->have, 0);

			if (n <= 0)
				return -1;
			p->have += (size_t)n;
			continue;
		}
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	return 0;
}

/* Whether the card user has closed the connection, within @ms */
static bool prov_closed(struct prov *p, int ms)
{
	return prov_wait(p, 0xffff, NULL, ms) == -1;
}

static void prov_close(struct prov *p, bool reset)
{
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(p->fd);
	p->fd = -1;
}

static const uint8_t select_apdu[] = { 0x00, 0xa4, 0x04, 0x00, 0x00 };

/* ------------------------------------------------------------------ */
/* faults */

static void test_error_fails_at_once(void)
{
	struct rec r;
	struct prov p;
	struct card *c;
	int port = free_port();
	char svc[16];
	gint64 t0;

	snprintf(svc, sizeof(svc), "%d", port);
	env.apdu_timeout_ms = 30000;
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, false);
	ok(run_until(&r.started, 1, 2000) && r.start_err == 0, "a bind card starts");
	ok(prov_connect(&p, port, 2000), "a provider connects");
	prov_hello(&p);
	ok(run_until(&r.inserts, 1, 2000), "its card is inserted");
	card_host_apdu(c, 7, select_apdu, sizeof(select_apdu));
	ok(prov_wait(&p, VSC_APDU, NULL, 2000) == 1, "the provider gets the APDU");
	t0 = loop_timeout();
	ok(t0 == -1,
	   "while the APDU is pending the loop has no timer to keep (poll timeout %lld ms): the deadline costs no clock reads",
	   (long long)t0);
	t0 = g_get_monotonic_time();
	prov_send(&p, VSC_ERROR, "\0\0\0\x01", 4);
	run_until(&r.fails, 1, 5000);
	ok(r.fails == 1 && r.fail_id == 7 && r.berror == CARD_ERR_HW_ERROR,
	   "fault: a VSCard Error while an APDU is pending fails it (bError %02x)",
	   r.berror);
	ok(r.fails && r.fail_at - t0 < 1000000,
	   "... at once (%lld ms), not after --apdu-timeout (30 s)",
	   (long long)(r.fail_at - t0) / 1000);
	card_host_apdu(c, 8, select_apdu, sizeof(select_apdu));
	ok(prov_wait(&p, VSC_APDU, NULL, 2000) == 1, "the card goes on: the next APDU reaches the provider");
	prov_send(&p, VSC_APDU, "\x90\x00", 2);
	ok(run_until(&r.replies, 1, 2000) && r.reply_id == 8, "... and is answered");
	prov_close(&p, false);
	card_free(c);
}

static void test_send_failure(void)
{
	struct rec r;
	struct prov p, q;
	struct card *c;
	int port = free_port();
	char svc[16];

	snprintf(svc, sizeof(svc), "%d", port);
	env.apdu_timeout_ms = 1500;
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, false);
	run_until(&r.started, 1, 2000);
	prov_connect(&p, port, 2000);
	prov_hello(&p);
	ok(run_until(&r.inserts, 1, 2000), "send failure: a first provider's card is in");
	/* it resets the connection; the loop has not seen it yet */
	prov_close(&p, true);
	g_usleep(100000);
	card_host_apdu(c, 11, select_apdu, sizeof(select_apdu));
	ok(run_until(&r.fails, 1, 3000) && r.fail_id == 11 && r.removes == 1,
	   "fault: the APDU whose send() failed is failed, the card taken out");
	ok(prov_connect(&q, port, 3000), "a second provider connects");
	prov_hello(&q);
	ok(run_until(&r.inserts, 2, 3000), "its card is inserted");
	card_host_apdu(c, 12, select_apdu, sizeof(select_apdu));
	ok(prov_wait(&q, VSC_APDU, NULL, 2000) == 1, "it gets the next APDU");
	prov_send(&q, VSC_APDU, "\x90\x00", 2);
	ok(run_until(&r.replies, 1, 2000) && r.reply_id == 12,
	   "fault: its answer is taken (no stale APDU id from the dead connection)");
	/* past the failed APDU's deadline */
	run_ms(2500);
	ok(!prov_closed(&q, 10) && r.removes == 1,
	   "... and it is not dropped at the old APDU's deadline");
	prov_close(&q, false);
	card_free(c);
	env.apdu_timeout_ms = CARD_DEFAULT_APDU_TIMEOUT_MS;
}

static void test_oversize_answer(void)
{
	static uint8_t big[65544];
	struct rec r;
	struct prov p;
	struct card *c;
	int port = free_port();
	char svc[16];
	gint64 t0;

	snprintf(svc, sizeof(svc), "%d", port);
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, false);
	run_until(&r.started, 1, 2000);
	prov_connect(&p, port, 2000);
	prov_hello(&p);
	run_until(&r.inserts, 1, 2000);
	card_host_apdu(c, 21, select_apdu, sizeof(select_apdu));
	prov_wait(&p, VSC_APDU, NULL, 2000);
	memset(big, 0x5a, sizeof(big));
	t0 = g_get_monotonic_time();
	prov_send(&p, VSC_APDU, big, 65539);
	ok(run_until(&r.fails, 1, 3000) && r.fail_id == 21 &&
	   r.berror == CARD_ERR_XFR_OVERRUN && r.replies == 0,
	   "fault: a 65539-byte answer (VSCard allows 65544, the kernel 65538) fails the APDU with XFR_OVERRUN");
	ok(r.fails && r.fail_at - t0 < 1000000, "... at once (%lld ms)",
	   (long long)(r.fail_at - t0) / 1000);
	card_host_apdu(c, 22, select_apdu, sizeof(select_apdu));
	prov_wait(&p, VSC_APDU, NULL, 2000);
	prov_send(&p, VSC_APDU, big, 65538);
	ok(run_until(&r.replies, 1, 3000) && r.reply_len == 65538,
	   "a 65538-byte answer goes through");
	prov_close(&p, false);
	card_free(c);
}

/*
 * A card bound on a free tcp port of 127.0.0.1, a provider connected to
 * it, its card inserted
 */
static struct card *tcp_card_up(struct rec *r, struct prov *p)
{
	int port = free_port();
	char svc[16];
	struct card *c;

	snprintf(svc, sizeof(svc), "%d", port);
	c = pt_card(r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, false);
	run_until(&r->started, 1, 2000);
	prov_connect(p, port, 2000);
	prov_hello(p);
	run_until(&r->inserts, 1, 2000);
	return c;
}

static void test_apdu_timeout_and_abort(void)
{
	struct rec r;
	struct prov p;
	struct card *c;
	size_t len;

	env.apdu_timeout_ms = 1000;
	c = tcp_card_up(&r, &p);
	/* an aborted APDU's late answer goes nowhere */
	card_host_apdu(c, 31, select_apdu, sizeof(select_apdu));
	prov_wait(&p, VSC_APDU, &len, 2000);
	card_host_abort(c, 31);
	card_host_apdu(c, 32, select_apdu, sizeof(select_apdu));
	prov_wait(&p, VSC_APDU, &len, 2000);
	prov_send(&p, VSC_APDU, "\x61\x31", 2);
	prov_send(&p, VSC_APDU, "\x90\x00", 2);
	ok(run_until(&r.replies, 1, 2000) && r.reply_id == 32 &&
	   r.reply[0] == 0x90,
	   "the answer to an aborted APDU is dropped; the next one gets its own");
	/* a provider that does not answer */
	card_host_apdu(c, 33, select_apdu, sizeof(select_apdu));
	prov_wait(&p, VSC_APDU, &len, 2000);
	ok(run_until(&r.fails, 1, 4000) && r.fail_id == 33 && r.removes == 1,
	   "a provider silent past --apdu-timeout (1 s): the APDU fails, the card goes");
	ok(prov_closed(&p, 1000), "... and its connection is closed");
	prov_close(&p, false);
	card_free(c);
	env.apdu_timeout_ms = CARD_DEFAULT_APDU_TIMEOUT_MS;
}

/*
 * The deadline timer is set by the first command and not moved by the
 * next ones: when it fires for an answered command while a later one is
 * pending, it must wait for that one's own deadline.
 */
static void test_deadline_later_command(void)
{
	struct rec r;
	struct prov p;
	struct card *c;
	gint64 t0;

	env.apdu_timeout_ms = 1000;
	c = tcp_card_up(&r, &p);
	card_host_apdu(c, 41, select_apdu, sizeof(select_apdu));
	prov_wait(&p, VSC_APDU, NULL, 2000);
	prov_send(&p, VSC_APDU, "\x90\x00", 2);
	run_until(&r.replies, 1, 2000);
	run_ms(600);
	card_host_apdu(c, 42, select_apdu, sizeof(select_apdu));
	prov_wait(&p, VSC_APDU, NULL, 2000);
	/* the first command's deadline passes meanwhile */
	run_ms(700);
	ok(r.fails == 0 && r.removes == 0 && !prov_closed(&p, 10),
	   "deadline: a command sent 0.6 s after an answered one is not failed at the first one's deadline");
	prov_send(&p, VSC_APDU, "\x90\x00", 2);
	ok(run_until(&r.replies, 2, 2000) && r.reply_id == 42,
	   "... and its answer, 0.7 s late, is taken");
	card_host_apdu(c, 43, select_apdu, sizeof(select_apdu));
	t0 = g_get_monotonic_time();
	prov_wait(&p, VSC_APDU, NULL, 2000);
	run_until(&r.fails, 1, 3000);
	t0 = r.fails ? r.fail_at - t0 : -1;
	ok(r.fails == 1 && r.fail_id == 43 && t0 >= 950000 && t0 < 2000000,
	   "... a silent one after it fails at its own deadline (%lld ms)",
	   (long long)t0 / 1000);
	prov_close(&p, false);
	card_free(c);
	env.apdu_timeout_ms = CARD_DEFAULT_APDU_TIMEOUT_MS;
}

static void test_silent_peer(void)
{
	struct rec r;
	struct prov a, b;
	struct card *c;
	int port = free_port();
	char svc[16];
	gint64 t0;

	snprintf(svc, sizeof(svc), "%d", port);
	env.open_timeout_ms = 1000;
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, false);
	run_until(&r.started, 1, 2000);
	t0 = now_ms();
	ok(prov_connect(&a, port, 2000), "security: a peer connects first and says nothing");
	ok(prov_connect(&b, port, 2000), "a real provider connects behind it");
	prov_hello(&b);
	{
		bool closed = prov_closed(&a, 4000);
		long long ms = (long long)(now_ms() - t0);

		ok(closed && ms >= 900,
		   "the silent peer is dropped after %lld ms (--open-timeout 1 s)", ms);
	}
	ok(run_until(&r.inserts, 1, 3000), "... and the provider behind it gets the slot");
	prov_close(&a, false);
	prov_close(&b, false);
	card_free(c);
	env.open_timeout_ms = CARD_DEFAULT_OPEN_TIMEOUT_MS;
}

/* ------------------------------------------------------------------ */
/* resolving, connecting, binding */

static int resolve_calls;
static gint64 resolve_delay_us;

/* ::1 first, then 127.0.0.1: what 'localhost' gives on many systems */
static int two_addresses(const char *host, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = { .ai_socktype = SOCK_STREAM,
			      .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *a = NULL, *b = NULL, *e;
	int r;

	(void)host;
	(void)hints;
	resolve_calls++;
	if (resolve_delay_us)
		g_usleep(resolve_delay_us);
	h.ai_family = AF_INET6;
	r = getaddrinfo("::1", service, &h, &a);
	h.ai_family = AF_INET;
	if (getaddrinfo("127.0.0.1", service, &h, &b))
		return EAI_FAIL;
	if (r) {
		*res = b;
		return 0;
	}
	for (e = a; e->ai_next; e = e->ai_next)
		;
	e->ai_next = b;
	*res = a;
	return 0;
}

static int ticks;

static gboolean tick(gpointer data)
{
	(void)data;
	ticks++;
	return G_SOURCE_CONTINUE;
}

static void test_every_address(void)
{
	struct rec r;
	struct card *c;
	int port = free_port(), lfd, cfd = -1;
	char svc[16];
	gint64 end;

	snprintf(svc, sizeof(svc), "%d", port);
	lfd = listener("127.0.0.1", port);
	env.resolve = two_addresses;
	resolve_calls = 0;
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_CONNECT, "localhost", svc, NULL, false, false);
	end = now_ms() + 3000;
	while (cfd < 0 && now_ms() < end) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1)
			cfd = accept(lfd, NULL, NULL);
		else
			run_ms(10);
	}
	ok(resolve_calls == 1 && cfd >= 0,
	   "fault: a name that resolves to ::1 (nobody there) and 127.0.0.1: the second address is tried and connects");
	ok(run_until(&r.started, 1, 2000) && r.start_err == 0,
	   "... and the card started (%s)", r.why);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	card_free(c);

	/* the loop runs while a name is being resolved */
	port = free_port();
	snprintf(svc, sizeof(svc), "%d", port);
	lfd = listener("127.0.0.1", port);
	resolve_delay_us = 1500000;
	ticks = 0;
	{
		guint t = g_timeout_add(50, tick, NULL);
		int before;

		c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_CONNECT, "slow.example", svc, NULL, false, false);
		run_ms(1000);
		before = ticks;
		ok(before >= 10 && r.started == 0,
		   "fault: the loop goes on while a name takes 1.5 s to resolve (%d ticks of 50 ms in 1 s)",
		   before);
		ok(run_until(&r.started, 1, 3000) && r.start_err == 0,
		   "... and the card connects when the answer comes");
		g_source_remove(t);
	}
	resolve_delay_us = 0;
	close(lfd);
	card_free(c);
	env.resolve = NULL;
}

static void test_connect_start(void)
{
	struct rec r;
	struct card *c;
	int port = free_port();
	char svc[16];

	snprintf(svc, sizeof(svc), "%d", port);
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_CONNECT, "127.0.0.1", svc, NULL, false, false);
	ok(run_until(&r.started, 1, 3000) && r.start_err < 0 && strstr(r.why, "cannot connect"),
	   "fault: connect without <reconnect> to a peer that is not there: the start fails (%s)",
	   r.why);
	card_free(c);
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_CONNECT, "127.0.0.1", svc, NULL, true, false);
	ok(run_until(&r.started, 1, 3000) && r.start_err == 0,
	   "with <reconnect> the start succeeds and ccidctl keeps trying");
	{
		int lfd = listener("127.0.0.1", port), cfd = -1;
		gint64 end = now_ms() + 4000;

		while (cfd < 0 && now_ms() < end) {
			struct pollfd pfd = { .fd = lfd, .events = POLLIN };

			if (poll(&pfd, 1, 0) == 1)
				cfd = accept(lfd, NULL, NULL);
			else
				run_ms(10);
		}
		ok(cfd >= 0, "... and connects once the peer listens (reconnect 1 s)");
		if (cfd >= 0)
			close(cfd);
		close(lfd);
	}
	card_free(c);
}

static void test_bind_in_use(void)
{
	struct rec r;
	struct prov p;
	struct card *c;
	int port = free_port(), busy;
	char svc[16];

	snprintf(svc, sizeof(svc), "%d", port);
	busy = listener("127.0.0.1", port);
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, false);
	ok(run_until(&r.started, 1, 2000) && r.start_err == 0,
	   "fault: a bind on a port in use (EADDRINUSE) starts and retries");
	run_ms(1200);
	close(busy);
	ok(prov_connect(&p, port, 4000), "... the port is freed: ccidctl listens on it within a few seconds");
	prov_hello(&p);
	ok(run_until(&r.inserts, 1, 4000), "... and a provider's card comes in");
	prov_close(&p, false);
	card_free(c);

	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "192.0.2.1", svc, NULL, false, false);
	ok(run_until(&r.started, 1, 2000) && r.start_err == 0 && r.inserts == 0,
	   "a bind on an address not (yet) on this host is retried too");
	card_free(c);
}

static void test_unix_bind(void)
{
	char path[96], other[128];
	struct rec r;
	struct card *c;
	struct stat st;
	mode_t old;
	FILE *f;
	char buf[32] = "";
	int fd;
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	snprintf(path, sizeof(path), "/tmp/test_passthrough.%d.sock", getpid());
	unlink(path);
	f = fopen(path, "w");
	fputs("precious\n", f);
	fclose(f);
	c = pt_card(&r, CFG_CHR_UNIX, CFG_CHR_BIND, NULL, NULL, path, false, false);
	ok(run_until(&r.started, 1, 2000) && r.start_err < 0 && strstr(r.why, "not a socket"),
	   "security: a regular file at the socket's path: the card does not start (%s)", r.why);
	card_free(c);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	ok(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && !strcmp(buf, "precious\n"),
	   "... and the file is left as it was");
	unlink(path);

	/* a stale socket is replaced; the new one is 0600 whatever the umask */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	bind(fd, (struct sockaddr *)&un, sizeof(un));
	close(fd);
	old = umask(0);
	c = pt_card(&r, CFG_CHR_UNIX, CFG_CHR_BIND, NULL, NULL, path, false, false);
	ok(run_until(&r.started, 1, 2000) && r.start_err == 0,
	   "a stale socket at the path (nobody listens) is replaced");
	umask(old);
	memset(&st, 0, sizeof(st));
	lstat(path, &st);
	ok(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
	   "security: under umask 000 the socket is mode %03o (0600 wanted)",
	   (unsigned int)(st.st_mode & 0777));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0, "a provider can connect to it");
	close(fd);
	card_free(c);
	ok(lstat(path, &st) < 0 && errno == ENOENT, "the card's socket is removed when it stops");

	/* a socket somebody listens on is not taken over */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&un, sizeof(un));
	listen(fd, 1);
	c = pt_card(&r, CFG_CHR_UNIX, CFG_CHR_BIND, NULL, NULL, path, false, false);
	run_until(&r.started, 1, 2000);
	run_ms(300);
	{
		int k = socket(AF_UNIX, SOCK_STREAM, 0);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		connect(k, (struct sockaddr *)&un, sizeof(un));
		ok(r.start_err == 0 && poll(&pfd, 1, 100) == 1,
		   "a socket another program listens on is left to it (ccidctl retries)");
		close(k);
	}
	close(fd);
	unlink(path);
	run_ms(1500);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0,
	   "... and takes the path once it is free");
	close(fd);
	/* replaced under its feet: ccidctl removes only its own socket */
	snprintf(other, sizeof(other), "%s.x", path);
	f = fopen(other, "w");
	fclose(f);
	rename(other, path);
	card_free(c);
	ok(lstat(path, &st) == 0 && S_ISREG(st.st_mode),
	   "a file that replaced ccidctl's socket is not removed when the card stops");
	unlink(path);
}

static gboolean set_flag(gpointer data)
{
	*(int *)data = 1;
	return G_SOURCE_REMOVE;
}

static void test_accept_emfile(void)
{
	struct rec r;
	struct card *c;
	struct rlimit old, low;
	int port = free_port(), fds[4096], nfds = 0, iters = 0, end = 0;
	char svc[16];
	struct prov p;

	snprintf(svc, sizeof(svc), "%d", port);
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, false);
	run_until(&r.started, 1, 2000);
	run_ms(100);
	p.fd = tcp_connect(port);
	p.have = 0;
	/* now take every descriptor there is */
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = 256;
	setrlimit(RLIMIT_NOFILE, &low);
	while (nfds < 4096) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			break;
		fds[nfds++] = fd;
	}
	/* blocking rounds of the loop for one second: a spinning loop makes
	 * thousands, a quiet one a handful */
	g_timeout_add(1000, set_flag, &end);
	while (!end && iters < 1000000) {
		g_main_context_iteration(NULL, TRUE);
		iters++;
	}
	ok(iters < 50,
	   "fault: accept() failing with EMFILE does not spin the loop (%d rounds in 1 s)",
	   iters);
	while (nfds)
		close(fds[--nfds]);
	setrlimit(RLIMIT_NOFILE, &old);
	prov_hello(&p);
	ok(run_until(&r.inserts, 1, 4000),
	   "once descriptors are free again, the waiting provider is accepted");
	prov_close(&p, false);
	card_free(c);
}

/* ------------------------------------------------------------------ */
/* TLS: providers in threads of their own, with GnuTLS */

struct tls_peer {
	bool server;		/* the provider listens (ccidctl connects) */
	int port;
	char cred_dir[300];	/* its certificate and key */
	char ca_dir[300];	/* the CA it trusts */
	const char *cert, *key;	/* in cred_dir; NULL: none */
	bool plain;		/* no TLS at all: VSCard in clear */
	int lfd;
	/* results */
	volatile int done;
	int handshake;		/* 1 done, -1 failed */
	int apdus;		/* APDUs answered */
	bool closed;		/* the card user closed or broke the session */
	char err[256];
};

static int peer_send(gnutls_session_t s, int fd, uint32_t type,
		     const void *data, size_t len)
{
	uint8_t m[64];
	ssize_t n = vsc_encode(m, sizeof(m), type, 0, data, len);

	if (n < 0)
		return -1;
	if (s)
		return gnutls_record_send(s, m, (size_t)n) == n ? 0 : -1;
	return send(fd, m, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/*
 * A client normally offers a certificate only if it comes from one of the
 * CAs the server names; one from another CA stays home, and the server
 * sees none. To test the verification itself, always offer ours.
 */
static gnutls_pcert_st peer_pcert;
static gnutls_privkey_t peer_key;

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
	*pcert = &peer_pcert;
	*npcert = 1;
	*key = peer_key;
	return 0;
}

static int load_offer(const char *cp, const char *kp)
{
	gnutls_datum_t c = { NULL, 0 }, k = { NULL, 0 };
	int r;

	r = gnutls_load_file(cp, &c);
	r = r ? r : gnutls_load_file(kp, &k);
	r = r ? r : gnutls_pcert_import_x509_raw(&peer_pcert, &c, GNUTLS_X509_FMT_PEM, 0);
	r = r ? r : gnutls_privkey_init(&peer_key);
	r = r ? r : gnutls_privkey_import_x509_raw(peer_key, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_free(c.data);
	gnutls_free(k.data);
	return r;
}

static void *peer_thread(void *arg)
{
	struct tls_peer *tp = arg;
	static const uint8_t init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0 };
	gnutls_certificate_credentials_t x = NULL;
	gnutls_session_t s = NULL;
	char ca[400], cp[400], kp[400];
	uint8_t buf[4096];
	size_t have = 0;
	int fd = -1, r;

	if (tp->server) {
		fd = accept(tp->lfd, NULL, NULL);
	} else {
		for (int i = 0; i < 100 && fd < 0; i++) {
			fd = tcp_connect(tp->port);
			if (fd < 0)
				g_usleep(20000);
		}
	}
	if (fd < 0) {
		snprintf(tp->err, sizeof(tp->err), "no connection");
		tp->handshake = -1;
		goto out;
	}
	if (!tp->plain) {
		snprintf(ca, sizeof(ca), "%s/ca-cert.pem",
			 tp->ca_dir[0] ? tp->ca_dir : tp->cred_dir);
		gnutls_certificate_allocate_credentials(&x);
		gnutls_certificate_set_x509_trust_file(x, ca, GNUTLS_X509_FMT_PEM);
		if (tp->cert) {
			snprintf(cp, sizeof(cp), "%s/%s", tp->cred_dir, tp->cert);
			snprintf(kp, sizeof(kp), "%s/%s", tp->cred_dir, tp->key);
			if (tp->server)
				gnutls_certificate_set_x509_key_file(x, cp, kp,
								     GNUTLS_X509_FMT_PEM);
			else if (load_offer(cp, kp) == 0)
				gnutls_certificate_set_retrieve_function2(x, always_offer);
		}
		gnutls_init(&s, tp->server ? GNUTLS_SERVER : GNUTLS_CLIENT);
		gnutls_set_default_priority(s);
		gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, x);
		if (tp->server)
			gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
		else
			gnutls_session_set_verify_cert(s, "127.0.0.1", 0);
		gnutls_transport_set_int(s, fd);
		gnutls_handshake_set_timeout(s, 5000);
		do {
			r = gnutls_handshake(s);
		} while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
		if (r < 0) {
			snprintf(tp->err, sizeof(tp->err), "%s", gnutls_strerror(r));
			tp->handshake = -1;
			goto out;
		}
	}
	tp->handshake = 1;
	if (peer_send(s, fd, VSC_INIT, init, sizeof(init)) ||
	    peer_send(s, fd, VSC_READER_ADD, NULL, 0) ||
	    peer_send(s, fd, VSC_ATR, CACATR, 15)) {
		tp->closed = true;
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (!s || !gnutls_record_check_pending(s)) {
			if (poll(&pfd, 1, 5000) != 1)
				break;
		}
		n = s ? gnutls_record_recv(s, buf + have, sizeof(buf) - have) :
			recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0) {
			tp->closed = true;
			if (n < 0 && s)
				snprintf(tp->err, sizeof(tp->err), "%s", gnutls_strerror((int)n));
			break;
		}
		have += (size_t)n;
		while (have >= 12) {
			uint32_t t = buf[3], l = (uint32_t)buf[10] << 8 | buf[11];

			if (have < 12 + l)
				break;
			memmove(buf, buf + 12 + l, have - 12 - l);
			have -= 12 + l;
			if (t == VSC_APDU) {
				peer_send(s, fd, VSC_APDU, "\x90\x00", 2);
				tp->apdus++;
			}
		}
	}
out:
	if (s)
		gnutls_deinit(s);
	if (x)
		gnutls_certificate_free_credentials(x);
	if (peer_key) {
		gnutls_pcert_deinit(&peer_pcert);
		gnutls_privkey_deinit(peer_key);
		peer_key = NULL;
	}
	if (fd >= 0)
		close(fd);
	tp->done = 1;
	return NULL;
}

static void peer_run(struct tls_peer *tp, pthread_t *th)
{
	pthread_create(th, NULL, peer_thread, tp);
}

static void peer_join(struct tls_peer *tp, pthread_t th, int ms)
{
	gint64 end = now_ms() + ms;

	while (!tp->done && now_ms() < end)
		run_ms(20);
	if (!tp->done) {
		diag("TLS peer still running after %d ms", ms);
		pthread_cancel(th);
	}
	pthread_join(th, NULL);
}

static void test_tls_listen(void)
{
	struct rec r;
	struct card *c;
	struct tls_peer tp;
	pthread_t th;
	int port = free_port();
	char svc[16];

	snprintf(svc, sizeof(svc), "%d", port);
	env.tls_dir = certs;
	env.tls_verify = true;
	env.open_timeout_ms = 3000;
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, true);
	ok(run_until(&r.started, 1, 2000) && r.start_err == 0,
	   "TLS: a listening card with tls='yes' starts");

	/* a provider whose certificate the CA signed */
	memset(&tp, 0, sizeof(tp));
	tp.port = port;
	snprintf(tp.cred_dir, sizeof(tp.cred_dir), "%s", certs);
	tp.cert = "client-cert.pem";
	tp.key = "client-key.pem";
	peer_run(&tp, &th);
	ok(run_until(&r.inserts, 1, 5000), "TLS: a trusted provider's card is inserted");
	card_host_apdu(c, 41, select_apdu, sizeof(select_apdu));
	ok(run_until(&r.replies, 1, 3000) && r.reply_id == 41,
	   "TLS: an APDU goes through the TLS session and is answered");
	card_free(c);
	peer_join(&tp, th, 3000);
	ok(tp.handshake == 1 && tp.apdus == 1, "... the provider saw one APDU");

	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_BIND, "127.0.0.1", svc, NULL, false, true);
	run_until(&r.started, 1, 2000);
	/* a provider with a certificate from a CA nobody trusts */
	memset(&tp, 0, sizeof(tp));
	tp.port = port;
	snprintf(tp.cred_dir, sizeof(tp.cred_dir), "%s/rogue", certs);
	tp.cert = "client-cert.pem";
	tp.key = "client-key.pem";
	/* it trusts ccidctl's certificate: only its own is the problem */
	snprintf(tp.ca_dir, sizeof(tp.ca_dir), "%s", certs);
	peer_run(&tp, &th);
	peer_join(&tp, th, 8000);
	ok(r.inserts == 0 && (tp.handshake == -1 || tp.closed) && tp.apdus == 0,
	   "TLS: a provider whose certificate is not trusted is refused, no card (%s)",
	   tp.err[0] ? tp.err : "closed");

	/* one without a certificate */
	memset(&tp, 0, sizeof(tp));
	tp.port = port;
	snprintf(tp.cred_dir, sizeof(tp.cred_dir), "%s", certs);
	peer_run(&tp, &th);
	peer_join(&tp, th, 8000);
	ok(r.inserts == 0 && (tp.handshake == -1 || tp.closed),
	   "TLS: a provider without a certificate is refused (%s)",
	   tp.err[0] ? tp.err : "closed");

	/* one that speaks VSCard in clear */
	memset(&tp, 0, sizeof(tp));
	tp.port = port;
	tp.plain = true;
	peer_run(&tp, &th);
	peer_join(&tp, th, 8000);
	ok(r.inserts == 0 && tp.closed,
	   "TLS: a provider that speaks VSCard without TLS is refused");

	/* and after all that, a trusted one still gets the slot */
	memset(&tp, 0, sizeof(tp));
	tp.port = port;
	snprintf(tp.cred_dir, sizeof(tp.cred_dir), "%s", certs);
	tp.cert = "client-cert.pem";
	tp.key = "client-key.pem";
	peer_run(&tp, &th);
	ok(run_until(&r.inserts, 1, 5000),
	   "TLS: the refusals disturbed nothing: a trusted provider gets the slot");
	card_free(c);
	peer_join(&tp, th, 3000);
	env.open_timeout_ms = CARD_DEFAULT_OPEN_TIMEOUT_MS;
}

static void test_tls_connect(void)
{
	struct rec r;
	struct card *c;
	struct tls_peer tp;
	pthread_t th;
	int port = free_port();
	char svc[16];

	snprintf(svc, sizeof(svc), "%d", port);
	env.tls_dir = certs;
	env.tls_verify = true;
	memset(&tp, 0, sizeof(tp));
	tp.server = true;
	tp.lfd = listener("127.0.0.1", port);
	snprintf(tp.cred_dir, sizeof(tp.cred_dir), "%s", certs);
	tp.cert = "server-cert.pem";
	tp.key = "server-key.pem";
	peer_run(&tp, &th);
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_CONNECT, "127.0.0.1", svc, NULL, false, true);
	ok(run_until(&r.inserts, 1, 5000) && r.start_err == 0,
	   "TLS: ccidctl connects to a provider whose certificate names 127.0.0.1; its card comes in");
	card_free(c);
	peer_join(&tp, th, 3000);
	close(tp.lfd);

	memset(&tp, 0, sizeof(tp));
	tp.server = true;
	tp.lfd = listener("127.0.0.1", port);
	snprintf(tp.cred_dir, sizeof(tp.cred_dir), "%s/wrongname", certs);
	tp.cert = "server-cert.pem";
	tp.key = "server-key.pem";
	peer_run(&tp, &th);
	c = pt_card(&r, CFG_CHR_TCP, CFG_CHR_CONNECT, "127.0.0.1", svc, NULL, false, true);
	ok(run_until(&r.started, 1, 5000) && r.start_err < 0 && r.inserts == 0,
	   "TLS: a provider whose certificate names another host is refused (%s)", r.why);
	card_free(c);
	peer_join(&tp, th, 3000);
	close(tp.lfd);

	env.tls_dir = "/nonexistent/tls";
	{
		struct cfg_card cf;
		struct card *k;

		memset(&cf, 0, sizeof(cf));
		cf.mode = CFG_MODE_PASSTHROUGH;
		cf.chr.type = CFG_CHR_TCP;
		cf.chr.mode = CFG_CHR_BIND;
		cf.chr.host = (char *)"127.0.0.1";
		cf.chr.service = svc;
		cf.chr.tls = true;
		k = card_new(&env, &cf, &sink, &r);
		ok(k && card_start(k) < 0,
		   "TLS: without its credentials directory the card does not start");
		card_free(k);
	}
	env.tls_dir = certs;
}

int main(void)
{
	char cmd[1024];

	signal(SIGPIPE, SIG_IGN);
	card_env_init(&env);
	snprintf(certs, sizeof(certs), "/tmp/test_passthrough.%d.certs", getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s && tests/vm/mkcerts.sh %s", certs, certs);
	if (system(cmd) != 0) {
		printf("not ok 1 - tests/vm/mkcerts.sh could not make certificates (run from the repository root; openssl needed)\n1..1\n");
		return 1;
	}
	/* ccidctl's log to a file, shown if something fails */
	snprintf(cmd, sizeof(cmd), "%s/ccidctl.log", certs);
	if (!freopen(cmd, "w", stderr))
		return 1;
	setvbuf(stderr, NULL, _IOLBF, 0);
	test_error_fails_at_once();
	test_send_failure();
	test_oversize_answer();
	test_apdu_timeout_and_abort();
	test_deadline_later_command();
	test_silent_peer();
	test_every_address();
	test_connect_start();
	test_bind_in_use();
	test_unix_bind();
	test_accept_emfile();
	test_tls_listen();
	test_tls_connect();
	if (tap_failures) {
		char line[1024];
		FILE *f;

		snprintf(cmd, sizeof(cmd), "%s/ccidctl.log", certs);
		f = fopen(cmd, "r");
		diag("ccidctl's log:");
		while (f && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			diag("  %s", line);
		}
		if (f)
			fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", certs);
	if (system(cmd) != 0)
		diag("could not remove %s", certs);
	return tap_done();
}

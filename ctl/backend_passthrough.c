// SPDX-License-Identifier: GPL-2.0
/*
 * backend_passthrough.c -- mode passthrough: a card provider at the other
 * end of a libvirt chardev
 *
 * A transport (transport.c: tcp or unix, bind or connect, TLS) carries
 * the bytes; a wire session (wire_vscard.c or wire_vpcd.c) speaks the
 * protocol. This file joins them to the card: which command an answer
 * belongs to, how long a provider may take, what happens when it goes.
 *
 * The card is in its slot while a provider is connected and has given an
 * ATR. A provider owes one answer per command it was sent; the answers to
 * commands the host aborted meanwhile are still due and are dropped when
 * they come. When the card goes (CardRemove, ATR again, the connection)
 * nothing is owed any more, as QEMU forgets its pending answers then.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "backend.h"
#include "loop.h"
#include "tls.h"
#include "transport.h"
#include "wire.h"

struct pt_card {
	struct card *card;
	struct transport *tr;
	struct wire wire;
	uint32_t live;		/* the command the provider owes, 0: none */
	unsigned int stale;	/* answers due for aborted commands */
	gint64 due;		/* the live command's deadline (coarse ms), 0: none */
	int tfd;		/* timerfd for the deadlines, -1: none */
	guint tfd_watch;
	bool timer_on;
	bool up;
};

/* ------------------------------------------------------------------ */
/*
 * The answer deadline, kept off the APDU path. Any GLib timeout source
 * makes every loop iteration read the clock twice, and a source per
 * command adds an allocation and a third read: under QEMU's TCG, where
 * the guest's clock is a system call, that was a third of ccidctl's
 * system calls per APDU. So each card has a timerfd that is armed once
 * and left alone: a command only notes its deadline on the coarse clock
 * (read from the vDSO, without a system call), and when the timer fires
 * it fails the live command if that command is overdue, and otherwise
 * sets itself for the live command's deadline or stays off.
 */

static gint64 coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (gint64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The timer goes off in ms (at least 1) milliseconds */
static void timer_set(struct pt_card *pc, gint64 ms)
{
	struct itimerspec its = { 0 };

	if (ms < 1)
		ms = 1;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000;
	if (timerfd_settime(pc->tfd, 0, &its, NULL) == 0)
		pc->timer_on = true;
	else
		card_log(pc->card, "timerfd_settime: %s: no --apdu-timeout",
			 strerror(errno));
}

static void deadline_off(struct pt_card *pc)
{
	pc->due = 0;
}

static void deadline_arm(struct pt_card *pc)
{
	int ms = pc->card->env->apdu_timeout_ms;

	pc->due = 0;
	if (ms <= 0 || pc->tfd < 0)
		return;
	pc->due = coarse_ms() + ms;
	/* a timer already set fires no later than this deadline */
	if (!pc->timer_on)
		timer_set(pc, ms);
}

static void conn_gone(struct pt_card *pc);

static gboolean on_timer(gint fd, GIOCondition cond, gpointer data)
{
	struct pt_card *pc = data;
	uint64_t n;
	gint64 left;

	(void)cond;
	if (read(fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return G_SOURCE_CONTINUE;
	pc->timer_on = false;
	if (!pc->live || !pc->due)
		return G_SOURCE_CONTINUE;
	left = pc->due - coarse_ms();
	if (left > 0) {
		timer_set(pc, left);
		return G_SOURCE_CONTINUE;
	}
	/* a provider that stops mid-answer must not hang the host */
	card_log(pc->card, "provider did not answer an APDU within %d s",
		 pc->card->env->apdu_timeout_ms / 1000);
	pc->due = 0;
	transport_drop(pc->tr, "no answer");
	conn_gone(pc);
	return G_SOURCE_CONTINUE;
}

/* Nothing is owed any more: fail the live command, forget the rest. */
static void forget_owed(struct pt_card *pc, uint8_t berror)
{
	uint32_t id = pc->live;

	pc->live = 0;
	pc->stale = 0;
	deadline_off(pc);
	if (id)
		card_fail(pc->card, id, berror);
}

static void conn_gone(struct pt_card *pc)
{
	pc->up = false;
	forget_owed(pc, CARD_ERR_ICC_MUTE);
	card_eject(pc->card);
}

/* ------------------------------------------------------------------ */
/* the wire session's host */

static void w_send(void *h, const void *buf, size_t len)
{
	struct pt_card *pc = h;

	transport_send(pc->tr, buf, len);
}

static void w_insert(void *h, const uint8_t *atr, size_t len)
{
	struct pt_card *pc = h;

	/* a new ATR is a new card: what the old one owed is void */
	forget_owed(pc, CARD_ERR_ICC_MUTE);
	card_insert(pc->card, atr, len);
}

static void w_eject(void *h)
{
	struct pt_card *pc = h;

	forget_owed(pc, CARD_ERR_ICC_MUTE);
	card_eject(pc->card);
}

static void w_answer(void *h, const uint8_t *rsp, size_t len)
{
	struct pt_card *pc = h;
	uint32_t id = pc->live;

	if (pc->stale) {
		/* the answer to a command the host aborted: not wanted */
		pc->stale--;
		card_dbg(pc->card, "answer to an aborted APDU dropped (%zu bytes)", len);
		return;
	}
	if (!id) {
		card_log(pc->card, "provider sent a response nobody asked for (%zu bytes)",
			 len);
		return;
	}
	pc->live = 0;
	deadline_off(pc);
	card_reply(pc->card, id, rsp, len);
}

static void w_error(void *h, uint32_t code)
{
	struct pt_card *pc = h;
	uint32_t id = pc->live;

	if (pc->stale) {
		pc->stale--;
		card_dbg(pc->card, "provider's error %u for an aborted APDU dropped", code);
		return;
	}
	if (!id) {
		if (code != 0)
			card_log(pc->card, "provider reports error %u", code);
		return;
	}
	/* QEMU fails the pending command at once; so do we */
	card_log(pc->card, "provider reports error %u for APDU %u: failed", code, id);
	pc->live = 0;
	deadline_off(pc);
	card_fail(pc->card, id, CARD_ERR_HW_ERROR);
}

static void w_opened(void *h)
{
	struct pt_card *pc = h;

	transport_opened(pc->tr);
}

static void w_log(void *h, bool debug, const char *msg)
{
	struct pt_card *pc = h;

	if (debug)
		card_dbg(pc->card, "%s", msg);
	else
		card_log(pc->card, "%s", msg);
}

static const struct wire_host wire_host = {
	.send = w_send,
	.insert = w_insert,
	.eject = w_eject,
	.answer = w_answer,
	.error = w_error,
	.opened = w_opened,
	.log = w_log,
};

/* ------------------------------------------------------------------ */
/* the transport's owner */

static void t_up(void *ctx)
{
	struct pt_card *pc = ctx;

	card_log(pc->card, "provider connected (%s)", pc->wire.proto->name);
	pc->up = true;
	pc->live = 0;
	pc->stale = 0;
	wire_connected(&pc->wire);
}

static void t_data(void *ctx, const uint8_t *buf, size_t len)
{
	struct pt_card *pc = ctx;

	if (wire_input(&pc->wire, buf, len) < 0) {
		transport_drop(pc->tr, pc->wire.why);
		conn_gone(pc);
		return;
	}
	/*
	 * Some providers (vpcd 3.3) send a length and its payload in two
	 * writes: when a message is half here, acknowledge at once instead
	 * of making them wait out a delayed ACK.
	 */
	if (wire_partial(&pc->wire))
		transport_quickack(pc->tr);
}

static void t_down(void *ctx, const char *why)
{
	struct pt_card *pc = ctx;

	(void)why;
	conn_gone(pc);
}

static void t_started(void *ctx, int err, const char *why)
{
	struct pt_card *pc = ctx;

	card_started(pc->card, err, why);
}

static const struct transport_ops transport_ops = {
	.up = t_up,
	.data = t_data,
	.down = t_down,
	.started = t_started,
};

/* ------------------------------------------------------------------ */
/* the backend */

static int pt_start(struct card *c)
{
	struct pt_card *pc = calloc(1, sizeof(*pc));
	struct transport_conf tc = { 0 };
	char name[48];

	if (!pc)
		return -1;
	c->priv = pc;
	pc->card = c;
	pc->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pc->tfd < 0)
		card_log(c, "timerfd_create: %s: no --apdu-timeout", strerror(errno));
	else
		pc->tfd_watch = loop_watch_fd(pc->tfd, G_IO_IN, on_timer, pc);
	if (wire_init(&pc->wire, c->conf.wire, &wire_host, pc)) {
		card_log(c, "out of memory");
		return -1;
	}
	pc->wire.debug = c->env->verbose;
	snprintf(name, sizeof(name), "card %s", c->name);
	tc.name = name;
	tc.proto_name = pc->wire.proto->name;
	tc.chr = &c->conf.chr;
	tc.tls_dir = c->env->tls_dir;
	tc.tls_verify = c->env->tls_verify;
	tc.open_timeout_ms = c->env->open_timeout_ms;
	tc.verbose = c->env->verbose;
	tc.resolve = c->env->resolve;
	pc->tr = transport_new(&tc, &transport_ops, pc);
	return transport_start(pc->tr);
}

static void pt_stop(struct card *c)
{
	struct pt_card *pc = c->priv;

	if (!pc)
		return;
	transport_free(pc->tr);
	wire_free(&pc->wire);
	if (pc->tfd_watch)
		g_source_remove(pc->tfd_watch);
	if (pc->tfd >= 0)
		close(pc->tfd);
	free(pc);
	c->priv = NULL;
}

static void pt_power(struct card *c, bool on)
{
	struct pt_card *pc = c->priv;

	if (pc->up)
		wire_power(&pc->wire, on);
}

static void pt_apdu(struct card *c, uint32_t id, const uint8_t *apdu,
		    size_t len)
{
	struct pt_card *pc = c->priv;
	int err;

	if (!pc->up || pc->live) {
		card_fail(c, id, CARD_ERR_ICC_MUTE);
		return;
	}
	/* owed before it is sent: a send that fails reports it as owed */
	pc->live = id;
	deadline_arm(pc);
	err = wire_command(&pc->wire, apdu, len);
	if (err) {
		card_log(c, "a %zu-byte APDU cannot travel over %s: failed", len,
			 pc->wire.proto->name);
		pc->live = 0;
		deadline_off(pc);
		card_fail(c, id, CARD_ERR_HW_ERROR);
	}
}

static void pt_abort(struct card *c, uint32_t id)
{
	struct pt_card *pc = c->priv;

	if (pc->live != id)
		return;
	/* the provider will still answer; that answer is dropped */
	pc->live = 0;
	pc->stale++;
	deadline_off(pc);
}

/* ------------------------------------------------------------------ */
/* checks: what apply would refuse */

static bool loopback_host(const char *h)
{
	return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) ||
	       !strcmp(h, "::1");
}

static bool wildcard_host(const char *h)
{
	return !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") ||
	       !strcmp(h, "*");
}

/* The same address written two ways (127.0.0.1, 127.000.000.001, ::1) */
static bool same_address(const char *x, const char *y)
{
	unsigned char a[16], b[16];

	if (!strcmp(x, y))
		return true;
	if (inet_pton(AF_INET, x, a) == 1 && inet_pton(AF_INET, y, b) == 1)
		return !memcmp(a, b, 4);
	if (inet_pton(AF_INET6, x, a) == 1 && inet_pton(AF_INET6, y, b) == 1)
		return !memcmp(a, b, 16);
	return false;
}

/* Two endpoints that cannot both be bound (names are not resolved here) */
static bool same_endpoint(const struct cfg_chardev *a, const struct cfg_chardev *b)
{
	if (a->type != b->type || a->mode != CFG_CHR_BIND || b->mode != CFG_CHR_BIND)
		return false;
	if (a->type == CFG_CHR_UNIX)
		return a->path && b->path && !strcmp(a->path, b->path);
	if (!a->service || !b->service || strcmp(a->service, b->service))
		return false;
	return same_address(a->host, b->host) || wildcard_host(a->host) ||
	       wildcard_host(b->host);
}

static void pt_check(const struct cfg *cfg, const struct card_env *env,
		     struct diag *d)
{
	bool tls_checked[2] = { false, false };

	for (size_t i = 0; i < cfg->ncards; i++) {
		const struct cfg_card *c = &cfg->cards[i];
		const struct cfg_chardev *chr = &c->chr;
		unsigned long line = chr->src_line ? chr->src_line : c->line;

		if (c->mode != CFG_MODE_PASSTHROUGH)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct cfg_card *o = &cfg->cards[j];

			if (o->mode == CFG_MODE_PASSTHROUGH &&
			    same_endpoint(chr, &o->chr)) {
				diag_add(d, line,
					 "smartcards %u.%u and %u.%u both listen on %s%s%s: one endpoint serves one card",
					 o->controller, o->slot, c->controller, c->slot,
					 chr->type == CFG_CHR_UNIX ? chr->path : chr->host,
					 chr->type == CFG_CHR_UNIX ? "" : ":",
					 chr->type == CFG_CHR_UNIX ? "" : chr->service);
				break;
			}
		}
		if (chr->type == CFG_CHR_TCP && chr->mode == CFG_CHR_BIND && !chr->tls) {
			if (wildcard_host(chr->host))
				diag_warn(d, line,
					  "card %u.%u listens on every address (%s) without TLS: anyone who can reach port %s and connects first becomes this card and sees its APDUs, PINs included; use tls='yes', a loopback host or a unix socket",
					  c->controller, c->slot, *chr->host ? chr->host : "*",
					  chr->service);
			else if (!loopback_host(chr->host))
				diag_warn(d, line,
					  "card %u.%u listens on %s without TLS: whoever reaches port %s and connects first becomes this card and sees its APDUs, PINs included; use tls='yes'",
					  c->controller, c->slot, chr->host, chr->service);
			else
				diag_warn(d, line,
					  "card %u.%u listens on %s:%s without TLS: any local user who connects first becomes this card and sees its APDUs, PINs included; use tls='yes' or a unix socket (mode 0600)",
					  c->controller, c->slot, chr->host, chr->service);
		}
		if (env->offline)
			continue;
		if (chr->tls) {
			int ep = chr->mode == CFG_CHR_BIND ? TLS_SERVER : TLS_CLIENT;
			char err[600];
			struct tls_creds *cr;

			if (tls_checked[ep])
				continue;
			tls_checked[ep] = true;
			cr = tls_creds_load(env->tls_dir, ep, env->tls_verify, err,
					    sizeof(err));
			if (!cr)
				diag_add(d, line, "tls='yes': %s", err);
			tls_creds_free(cr);
		}
		if (chr->type == CFG_CHR_UNIX && chr->mode == CFG_CHR_BIND && chr->path) {
			struct stat st;
			char *dir = g_path_get_dirname(chr->path);

			if (lstat(chr->path, &st) == 0 && !S_ISSOCK(st.st_mode))
				diag_add(d, line,
					 "%s exists and is not a socket: ccidctl will not replace it",
					 chr->path);
			else if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
				diag_add(d, line, "the directory of %s does not exist",
					 chr->path);
			g_free(dir);
		}
	}
}

const struct card_backend passthrough_backend = {
	.name = "passthrough",
	.modes = CARD_MODE_BIT(CFG_MODE_PASSTHROUGH),
	.check = pt_check,
	.start = pt_start,
	.stop = pt_stop,
	.power = pt_power,
	.apdu = pt_apdu,
	.abort = pt_abort,
};

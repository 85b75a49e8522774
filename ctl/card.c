// SPDX-License-Identifier: GPL-2.0
/*
 * card.c -- cards: their upcalls, the owner's entry points, and the table
 * of backends
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "card.h"

static const struct card_backend *const backends[] = {
	&cacard_backend,
	&passthrough_backend,
};

#define NBACKENDS	(sizeof(backends) / sizeof(backends[0]))

static const struct card_backend *backend_for(enum cfg_mode mode)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i]->modes & CARD_MODE_BIT(mode))
			return backends[i];
	return NULL;
}

void card_env_init(struct card_env *env)
{
	memset(env, 0, sizeof(*env));
	env->tls_dir = CARD_DEFAULT_TLS_DIR;
	env->tls_verify = true;
	env->apdu_timeout_ms = CARD_DEFAULT_APDU_TIMEOUT_MS;
	env->open_timeout_ms = CARD_DEFAULT_OPEN_TIMEOUT_MS;
}

int card_check(const struct cfg *cfg, const struct card_env *env,
	       struct diag *d)
{
	size_t before = diag_count(d);

	for (size_t i = 0; i < cfg->ncards; i++)
		if (!backend_for(cfg->cards[i].mode))
			diag_add(d, cfg->cards[i].line,
				 "no backend serves smartcard mode='%s'",
				 cfg_mode_name(cfg->cards[i].mode));
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i]->check)
			backends[i]->check(cfg, env, d);
	return diag_count(d) == before ? 0 : -1;
}

int card_check_reload(const struct cfg *cfg, const struct card_env *env,
		      struct diag *d)
{
	size_t before = diag_count(d);

	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i]->check_reload)
			backends[i]->check_reload(cfg, env, d);
	return diag_count(d) == before ? 0 : -1;
}

void card_log(const struct card *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ccidctl: card %s: %s\n", c->name, msg);
}

struct card *card_new(const struct card_env *env, const struct cfg_card *cf,
		      const struct card_sink_ops *sink, void *owner)
{
	struct card *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->be = backend_for(cf->mode);
	if (!c->be || cfg_card_copy(&c->conf, cf)) {
		free(c);
		return NULL;
	}
	c->env = env;
	c->sink = sink;
	c->owner = owner;
	snprintf(c->name, sizeof(c->name), "%u.%u", cf->controller, cf->slot);
	return c;
}

int card_prepare(struct card **cards, size_t n)
{
	struct card **mine;
	int rc = 0;

	if (!n)
		return 0;
	mine = calloc(n, sizeof(*mine));
	if (!mine)
		return -1;
	for (size_t b = 0; b < NBACKENDS && !rc; b++) {
		size_t k = 0;

		if (!backends[b]->prepare)
			continue;
		for (size_t i = 0; i < n; i++)
			if (cards[i]->be == backends[b])
				mine[k++] = cards[i];
		if (k && backends[b]->prepare(mine, k))
			rc = -1;
	}
	free(mine);
	return rc;
}

int card_start(struct card *c)
{
	c->started = false;
	if (c->be->start(c)) {
		c->be->stop(c);
		return -1;
	}
	c->running = true;
	return 0;
}

void card_started(struct card *c, int err, const char *why)
{
	if (c->started)
		return;
	c->started = true;
	c->start_err = err;
	if (c->sink->started)
		c->sink->started(c->owner, c, err, why);
}

void card_free(struct card *c)
{
	if (!c)
		return;
	if (c->running)
		c->be->stop(c);
	c->running = false;
	card_eject(c);
	cfg_card_release(&c->conf);
	free(c);
}

void card_insert(struct card *c, const uint8_t *atr, size_t atr_len)
{
	int err;

	if (c->inserted)
		card_eject(c);
	err = c->sink->insert(c->owner, c, atr, atr_len);
	if (err) {
		card_log(c, "cannot insert: %s", strerror(-err));
		return;
	}
	c->inserted = true;
	c->powered = false;
	card_log(c, "inserted (%s)", c->be->name);
}

void card_eject(struct card *c)
{
	int err;

	if (!c->inserted)
		return;
	c->inserted = false;
	c->powered = false;
	/* the kernel fails whatever is pending when the card goes */
	c->pending = 0;
	err = c->sink->remove(c->owner, c);
	if (err && err != -ENOENT)
		card_log(c, "cannot remove: %s", strerror(-err));
	else
		card_log(c, "removed");
}

void card_fail(struct card *c, uint32_t id, uint8_t berror)
{
	int err;

	if (!id || c->pending != id) {
		card_dbg(c, "failure of APDU %u dropped: no longer pending", id);
		return;
	}
	c->pending = 0;
	err = c->sink->fail(c->owner, c, id, berror);
	if (err && err != -ESTALE)
		card_log(c, "cannot fail APDU %u: %s", id, strerror(-err));
}

void card_reply(struct card *c, uint32_t id, const uint8_t *rsp, size_t len)
{
	int err;

	if (!id || c->pending != id) {
		card_dbg(c, "answer to APDU %u dropped: no longer pending", id);
		return;
	}
	if (len < 2) {
		card_log(c, "answer to APDU %u has %zu byte%s, no status word: failed",
			 id, len, len == 1 ? "" : "s");
		card_fail(c, id, CARD_ERR_HW_ERROR);
		return;
	}
	if (len > CARD_MAX_RESPONSE) {
		/* the host must hear of it now, not wait out its timeouts */
		card_log(c, "answer to APDU %u is %zu bytes, more than the %d a response can have: failed",
			 id, len, CARD_MAX_RESPONSE);
		card_fail(c, id, CARD_ERR_XFR_OVERRUN);
		return;
	}
	c->pending = 0;
	err = c->sink->reply(c->owner, c, id, rsp, len);
	if (err == -ESTALE)
		card_dbg(c, "answer to APDU %u refused by the kernel: stale", id);
	else if (err)
		card_log(c, "cannot answer APDU %u: %s", id, strerror(-err));
}

void card_host_power(struct card *c, bool on)
{
	if (!c->inserted)
		return;
	c->powered = on;
	if (c->running)
		c->be->power(c, on);
}

void card_host_apdu(struct card *c, uint32_t id, const uint8_t *apdu,
		    size_t len)
{
	if (!c->inserted || !c->running || c->pending) {
		/* answer at once: a card that is not there is mute */
		if (c->pending)
			card_log(c, "APDU %u while %u is pending: failed", id,
				 c->pending);
		c->sink->fail(c->owner, c, id, CARD_ERR_ICC_MUTE);
		return;
	}
	c->pending = id;
	c->be->apdu(c, id, apdu, len);
}

void card_host_abort(struct card *c, uint32_t id)
{
	if (!id || c->pending != id)
		return;
	c->pending = 0;
	if (c->running)
		c->be->abort(c, id);
}

void card_host_removed(struct card *c)
{
	uint32_t id = c->pending;

	c->inserted = false;
	c->powered = false;
	c->pending = 0;
	if (id && c->running)
		c->be->abort(c, id);
}

void card_host_gone(struct card *c)
{
	uint32_t id = c->pending;

	c->pending = 0;
	c->powered = false;
	if (id && c->running)
		c->be->abort(c, id);
}

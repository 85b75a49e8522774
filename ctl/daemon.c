// SPDX-License-Identifier: GPL-2.0
/*
 * daemon.c -- ccidctl apply: keep the configured cards in their slots
 *
 * One thread runs a poll() loop over the readers' char devices, the card
 * backends' descriptors and a signalfd. Events from the kernel go to the
 * card of their slot; what backends produce goes back to the kernel. A card
 * whose backend fails is a removed card on the USB host side, never a hang.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "card.h"
#include "ccidg.h"
#include "daemon.h"
#include "gadget.h"

int ccidctl_verbose;
int ccidctl_apdu_timeout_ms = DAEMON_DEFAULT_APDU_TIMEOUT * 1000;

struct reader {
	unsigned int index;
	struct ccidg dev;
	struct card *slot[CCIDG_MAX_SLOTS];
	const char *devpath;
};

#define MAX_READERS	GADGET_MAX_FUNCS
#define MAX_POLL	(2 + MAX_READERS + 4 * MAX_READERS * CCIDG_MAX_SLOTS)

void card_log(const struct card *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ccidctl: card %s: %s\n", c->name, msg);
}

void card_insert(struct card *c, const uint8_t *atr, size_t atr_len)
{
	int err;

	if (c->inserted)
		card_eject(c);
	err = ccidg_insert(&c->rd->dev, c->slot, atr, atr_len);
	if (err) {
		card_log(c, "cannot insert: %s", strerror(-err));
		return;
	}
	c->inserted = true;
	card_log(c, "inserted (%s)", c->ops->name);
}

void card_eject(struct card *c)
{
	int err;

	if (!c->inserted)
		return;
	c->inserted = false;
	c->pending = 0;
	err = ccidg_remove(&c->rd->dev, c->slot);
	if (err && err != -ENOENT)
		card_log(c, "cannot remove: %s", strerror(-err));
	else
		card_log(c, "removed");
}

void card_reply(struct card *c, uint32_t id, const uint8_t *rsp, size_t len)
{
	int err;

	if (!id || c->pending != id) {
		card_dbg(c, "answer to APDU %u dropped: no longer pending", id);
		return;
	}
	c->pending = 0;
	err = ccidg_reply(&c->rd->dev, c->slot, id, rsp, len);
	if (err == -ESTALE)
		card_dbg(c, "answer to APDU %u refused by the kernel: stale", id);
	else if (err)
		card_log(c, "cannot answer APDU %u: %s", id, strerror(-err));
}

void card_reply_error(struct card *c, uint32_t id)
{
	int err;

	if (!id || c->pending != id)
		return;
	c->pending = 0;
	err = ccidg_reply_error(&c->rd->dev, c->slot, id);
	if (err && err != -ESTALE)
		card_log(c, "cannot fail APDU %u: %s", id, strerror(-err));
}

static const struct card_ops *backend_of(const struct cfg_card *cf)
{
	switch (cf->mode) {
	case CFG_MODE_HOST:
	case CFG_MODE_HOST_CERTIFICATES:
		return &cacard_ops;
	case CFG_MODE_PASSTHROUGH:
		return &passthrough_ops;
	}
	return NULL;
}

/* One event from a reader's char device */
static int reader_event(struct reader *rd, const struct ccidg_event *ev,
			const uint8_t *data)
{
	struct card *c = ev->slot < CCIDG_MAX_SLOTS ? rd->slot[ev->slot] : NULL;

	if (ccidctl_verbose)
		fprintf(stderr, "ccidctl: reader %u: event %s slot %u id %u len %u\n",
			rd->index, ccidg_event_name(ev->type), ev->slot, ev->id, ev->len);
	switch (ev->type) {
	case CCIDG_EV_HOST_CONNECT:
		fprintf(stderr, "ccidctl: reader %u: USB host connected\n", rd->index);
		break;
	case CCIDG_EV_HOST_DISCONNECT:
		fprintf(stderr, "ccidctl: reader %u: USB host gone\n", rd->index);
		for (unsigned int s = 0; s < CCIDG_MAX_SLOTS; s++)
			if (rd->slot[s])
				rd->slot[s]->pending = 0;
		break;
	case CCIDG_EV_POWER_ON:
	case CCIDG_EV_POWER_OFF:
		if (c && c->inserted)
			c->ops->power(c, ev->type == CCIDG_EV_POWER_ON);
		break;
	case CCIDG_EV_APDU:
		if (!c || !c->inserted) {
			ccidg_reply_error(&rd->dev, ev->slot, ev->id);
			break;
		}
		c->pending = ev->id;
		c->ops->apdu(c, ev->id, data, ev->len);
		break;
	case CCIDG_EV_ABORT:
		if (c && c->pending == ev->id) {
			c->pending = 0;
			c->ops->abort(c, ev->id);
		}
		break;
	case CCIDG_EV_CARD_REMOVED:
		if (c) {
			c->inserted = false;
			c->pending = 0;
		}
		break;
	}
	return 0;
}

static volatile sig_atomic_t stop_now;

int daemon_run(const struct cfg *cfg, const struct daemon_opts *o)
{
	struct reader *readers;
	struct card *cards, **cac_cards;
	struct gadget g;
	struct pollfd pfd[MAX_POLL];
	int *first = NULL, *cnt = NULL;
	size_t nrd = 0, ncac = 0, i;
	sigset_t mask;
	int sfd, rc = 1;

	ccidctl_verbose = o->verbose;
	ccidctl_apdu_timeout_ms = o->apdu_timeout * 1000;
	if (cfg->nctrls > MAX_READERS) {
		fprintf(stderr, "ccidctl: %zu controllers; at most %d are supported\n",
			cfg->nctrls, MAX_READERS);
		return 1;
	}
	/*
	 * Block the stop signals before anything starts a thread: NSS, a
	 * PKCS#11 module (SoftHSM) and libcacard start their own, and a
	 * thread with SIGTERM unblocked would take the default action and
	 * kill the process instead of letting the loop stop cleanly.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("ccidctl: signalfd");
		return 1;
	}
	readers = calloc(cfg->nctrls ? cfg->nctrls : 1, sizeof(*readers));
	cards = calloc(cfg->ncards ? cfg->ncards : 1, sizeof(*cards));
	cac_cards = calloc(cfg->ncards ? cfg->ncards : 1, sizeof(*cac_cards));
	first = calloc(cfg->ncards ? cfg->ncards : 1, sizeof(*first));
	cnt = calloc(cfg->ncards ? cfg->ncards : 1, sizeof(*cnt));
	if (!readers || !cards || !cac_cards || !first || !cnt) {
		fprintf(stderr, "ccidctl: out of memory\n");
		goto out_free;
	}
	for (i = 0; i < cfg->nctrls; i++)
		readers[i].dev.fd = -1;

	/* The gadget, and each reader's char device */
	memset(&g, 0, sizeof(g));
	g.vid = o->vid;
	g.pid = o->pid;
	for (i = 0; i < cfg->nctrls; i++) {
		g.funcs[i].index = cfg->ctrls[i].index;
		g.funcs[i].nslots = cfg->ctrls[i].nslots;
	}
	g.nfuncs = cfg->nctrls;
	if (o->udc) {
		snprintf(g.udc, sizeof(g.udc), "%s", o->udc);
		if (gadget_up(&g))
			goto out_free;
	} else {
		for (i = 0; i < g.nfuncs; i++)
			if (gadget_find_func(&g.funcs[i]))
				goto out_free;
	}
	for (i = 0; i < cfg->nctrls; i++) {
		struct reader *rd = &readers[i];
		int err;

		rd->index = cfg->ctrls[i].index;
		rd->devpath = g.funcs[i].dev;
		err = ccidg_open(&rd->dev, rd->devpath);
		if (err) {
			fprintf(stderr, "ccidctl: %s (controller %u): %s%s\n", rd->devpath,
				rd->index, strerror(-err),
				err == -EBUSY ? " (another daemon has it open)" : "");
			goto out_close;
		}
		nrd++;
		if (rd->dev.cfg.nslots < cfg->ctrls[i].nslots) {
			fprintf(stderr, "ccidctl: controller %u needs %u slots, %s has %u\n",
				rd->index, cfg->ctrls[i].nslots, rd->devpath,
				rd->dev.cfg.nslots);
			goto out_close;
		}
	}

	/* The cards */
	for (i = 0; i < cfg->ncards; i++) {
		const struct cfg_card *cf = &cfg->cards[i];
		struct card *c = &cards[i];
		size_t r;

		c->conf = cf;
		c->slot = cf->slot;
		snprintf(c->name, sizeof(c->name), "%u.%u", cf->controller, cf->slot);
		for (r = 0; r < nrd; r++)
			if (readers[r].index == cf->controller)
				c->rd = &readers[r];
		c->ops = backend_of(cf);
		if (!c->rd || !c->ops) {
			card_log(c, "no reader for controller %u", cf->controller);
			goto out_close;
		}
		c->rd->slot[c->slot] = c;
		if (c->ops == &cacard_ops)
			cac_cards[ncac++] = c;
	}
	if (cacard_prepare(cac_cards, ncac, o->host_db))
		goto out_close;

	for (i = 0; i < cfg->ncards; i++) {
		if (cards[i].ops->start(&cards[i])) {
			card_log(&cards[i], "backend %s failed to start", cards[i].ops->name);
			/* The card stays out; the others are served */
		}
	}
	fprintf(stderr, "ccidctl: serving %zu card(s) on %zu reader(s)\n", cfg->ncards, nrd);
	if (o->ready_fd >= 0) {
		if (write(o->ready_fd, "ready\n", 6) < 0)
			perror("ccidctl: ready fd");
		close(o->ready_fd);
	}

	rc = 0;
	while (!stop_now) {
		int n = 0, timeout = -1, r;

		pfd[n].fd = sfd;
		pfd[n].events = POLLIN;
		n++;
		for (i = 0; i < nrd; i++) {
			pfd[n].fd = readers[i].dev.fd;
			pfd[n].events = POLLIN;
			n++;
		}
		for (i = 0; i < cfg->ncards; i++) {
			struct card *c = &cards[i];
			int t;

			first[i] = n;
			cnt[i] = c->ops->pollfds(c, &pfd[n], MAX_POLL - n);
			n += cnt[i];
			t = c->ops->timeout(c);
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		r = poll(pfd, n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("ccidctl: poll");
			rc = 1;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				fprintf(stderr, "ccidctl: signal %u, stopping\n", si.ssi_signo);
			break;
		}
		for (i = 0; i < nrd; i++) {
			struct reader *rd = &readers[i];
			struct ccidg_event ev;
			const uint8_t *data;
			int got;

			if (!pfd[1 + i].revents)
				continue;
			while ((got = ccidg_read_event(&rd->dev, &ev, &data)) > 0)
				reader_event(rd, &ev, data);
			if (got < 0) {
				fprintf(stderr, "ccidctl: %s: %s (the gadget went away?)\n",
					rd->devpath, strerror(-got));
				rc = 1;
				stop_now = 1;
			}
		}
		/* Backends: ready descriptors, then expired timeouts */
		for (i = 0; i < cfg->ncards && !stop_now; i++) {
			struct card *c = &cards[i];
			bool any = false;

			for (int k = 0; k < cnt[i]; k++)
				any |= pfd[first[i] + k].revents != 0;
			if (any)
				c->ops->ready(c, &pfd[first[i]], cnt[i]);
			else if (c->ops->timeout(c) == 0)
				c->ops->ready(c, NULL, 0);
		}
	}

	/* Cards out, backends stopped, gadget as we found it */
	for (i = 0; i < cfg->ncards; i++) {
		card_eject(&cards[i]);
		cards[i].ops->stop(&cards[i]);
	}
out_close:
	for (i = 0; i < nrd; i++)
		ccidg_close(&readers[i].dev);
	if (o->udc && gadget_down(&g))
		rc = 1;
out_free:
	close(sfd);
	free(readers);
	free(cards);
	free(cac_cards);
	free(first);
	free(cnt);
	return rc;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * daemon.c -- ccidctl apply: keep the configured cards in their slots
 *
 * GLib's main loop runs everything on one thread: the readers' char
 * devices, the cards (card.c, which knows the backends), the signals
 * (through a signalfd) and the control socket. Events from the kernel go
 * to the card of their slot; what a card does comes back through the sink
 * below and goes to the kernel. A card whose backend fails is a removed
 * card on the USB host side, never a hang.
 *
 * A reload (SIGHUP, `ccidctl reload`) runs the same pipeline as the start
 * (plan_load()), then keeps every card whose description did not change,
 * in its slot and with its session, takes out the cards that went or
 * changed, and starts the new ones. A file that does not pass, or that
 * asks for what the running gadget or backends cannot give (a reader that
 * is not there, more slots than a reader has), changes nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <systemd/sd-daemon.h>

#include "card.h"
#include "ccidg.h"
#include "control.h"
#include "daemon.h"
#include "diag.h"
#include "gadget.h"
#include "loop.h"
#include "plan.h"
#include "xml.h"

struct daemon;

struct reader {
	struct daemon *dm;
	unsigned int index;
	struct ccidg dev;
	guint watch;
	struct card *slot[CCIDG_MAX_SLOTS];
	const char *devpath;
};

struct daemon {
	const struct daemon_opts *o;
	struct cfg *cfg;
	struct gadget g;
	struct reader *readers;
	size_t nrd;
	GMainLoop *loop;
	int rc;
	bool serving;		/* the start is over */
	unsigned int starting;	/* cards whose start has not reported yet */
	bool start_armed;	/* every card of the start has been started */
	bool start_failed;
	guint reap;		/* idle: free the cards that failed to start */
	struct control_sock ctl;
	guint ctl_watch;
};

static void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dlog(const char *fmt, ...)
{
	va_list ap;

	fputs("ccidctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct reader *reader_of(struct daemon *dm, unsigned int index)
{
	for (size_t i = 0; i < dm->nrd; i++)
		if (dm->readers[i].index == index)
			return &dm->readers[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the cards' sink: what they do goes to the kernel */

static struct reader *card_reader(void *owner, struct card *c)
{
	return reader_of(owner, c->conf.controller);
}

static int sink_insert(void *owner, struct card *c, const uint8_t *atr,
		       size_t len)
{
	struct reader *rd = card_reader(owner, c);

	return rd ? ccidg_insert(&rd->dev, c->conf.slot, atr, len) : -ENODEV;
}

static int sink_remove(void *owner, struct card *c)
{
	struct reader *rd = card_reader(owner, c);

	return rd ? ccidg_remove(&rd->dev, c->conf.slot) : -ENODEV;
}

static int sink_reply(void *owner, struct card *c, uint32_t id,
		      const uint8_t *rsp, size_t len)
{
	struct reader *rd = card_reader(owner, c);

	return rd ? ccidg_reply(&rd->dev, c->conf.slot, id, rsp, len) : -ENODEV;
}

static int sink_fail(void *owner, struct card *c, uint32_t id, uint8_t berror)
{
	struct reader *rd = card_reader(owner, c);

	return rd ? ccidg_reply_fail(&rd->dev, c->conf.slot, id, berror) : -ENODEV;
}

static void start_done(struct daemon *dm);

static gboolean on_reap(gpointer data)
{
	struct daemon *dm = data;

	dm->reap = 0;
	for (size_t i = 0; i < dm->nrd; i++) {
		struct reader *rd = &dm->readers[i];

		for (unsigned int s = 0; s < CCIDG_MAX_SLOTS; s++) {
			struct card *c = rd->slot[s];

			if (c && c->started && c->start_err) {
				rd->slot[s] = NULL;
				card_free(c);
			}
		}
	}
	return G_SOURCE_REMOVE;
}

static void sink_started(void *owner, struct card *c, int err, const char *why)
{
	struct daemon *dm = owner;

	if (err) {
		card_log(c, "cannot serve this card: %s", why && *why ? why : strerror(-err));
		/* freed from the loop: we may be inside its backend */
		if (!dm->reap)
			dm->reap = g_idle_add(on_reap, dm);
		if (!dm->serving)
			dm->start_failed = true;
	}
	if (!dm->serving && dm->starting && --dm->starting == 0 && dm->start_armed)
		start_done(dm);
}

static const struct card_sink_ops sink_ops = {
	.insert = sink_insert,
	.remove = sink_remove,
	.reply = sink_reply,
	.fail = sink_fail,
	.started = sink_started,
};

/* ------------------------------------------------------------------ */
/* events from the kernel */

static void reader_event(struct reader *rd, const struct ccidg_event *ev,
			 const uint8_t *data)
{
	struct card *c = ev->slot < CCIDG_MAX_SLOTS ? rd->slot[ev->slot] : NULL;

	if (rd->dm->o->env.verbose)
		dlog("reader %u: event %s slot %u id %u len %u", rd->index,
		     ccidg_event_name(ev->type), ev->slot, ev->id, ev->len);
	switch (ev->type) {
	case CCIDG_EV_HOST_CONNECT:
		dlog("reader %u: USB host connected", rd->index);
		break;
	case CCIDG_EV_HOST_DISCONNECT:
		dlog("reader %u: USB host gone", rd->index);
		for (unsigned int s = 0; s < CCIDG_MAX_SLOTS; s++)
			if (rd->slot[s])
				card_host_gone(rd->slot[s]);
		break;
	case CCIDG_EV_POWER_ON:
	case CCIDG_EV_POWER_OFF:
		if (c)
			card_host_power(c, ev->type == CCIDG_EV_POWER_ON);
		break;
	case CCIDG_EV_APDU:
		if (c)
			card_host_apdu(c, ev->id, data, ev->len);
		else
			ccidg_reply_error(&rd->dev, ev->slot, ev->id);
		break;
	case CCIDG_EV_ABORT:
		if (c)
			card_host_abort(c, ev->id);
		break;
	case CCIDG_EV_CARD_REMOVED:
		if (c)
			card_host_removed(c);
		break;
	default:
		/* a newer kernel's event: skipped, as the uapi says */
		break;
	}
}

static gboolean on_reader(gint fd, GIOCondition cond, gpointer data)
{
	struct reader *rd = data;
	struct ccidg_event ev;
	const uint8_t *payload;
	int got;

	(void)fd;
	(void)cond;
	/* one event per round: poll() says whether there is another */
	got = ccidg_read_event(&rd->dev, &ev, &payload);
	if (got > 0)
		reader_event(rd, &ev, payload);
	if (got < 0) {
		dlog("%s: %s (the gadget went away?)", rd->devpath, strerror(-got));
		rd->dm->rc = 1;
		rd->watch = 0;
		g_main_loop_quit(rd->dm->loop);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* configurations: the start and every reload */

/* The running card in the new card's slot, if the new card is the same */
static struct card *kept_card(struct daemon *dm, const struct cfg_card *cf)
{
	struct reader *rd = reader_of(dm, cf->controller);
	struct card *c = rd && cf->slot < CCIDG_MAX_SLOTS ? rd->slot[cf->slot] : NULL;

	return c && c->running && !c->start_err && cfg_card_equal(&c->conf, cf) ?
	       c : NULL;
}

/* What the running gadget cannot give @cfg: 0, or -1 with reasons */
static int check_shape(struct daemon *dm, const struct cfg *cfg, struct diag *d)
{
	size_t before = diag_count(d);

	for (size_t i = 0; i < cfg->nctrls; i++) {
		const struct cfg_controller *ctl = &cfg->ctrls[i];
		struct reader *rd = reader_of(dm, ctl->index);

		if (!rd)
			diag_add(d, ctl->line,
				 "controller %u is not a reader of this ccidctl (its readers are fixed at start): restart ccidctl to add one",
				 ctl->index);
		else if (rd->dev.cfg.nslots < ctl->nslots)
			diag_add(d, ctl->line,
				 "controller %u needs %u slots; its reader has %u (the slots are fixed while it is bound): declare ccid:slots at start, or restart ccidctl",
				 ctl->index, ctl->nslots, rd->dev.cfg.nslots);
	}
	return diag_count(d) == before ? 0 : -1;
}

static void say(GString *report, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(GString *report, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	dlog("%s", msg);
	if (report)
		g_string_append_printf(report, "%s\n", msg);
	g_free(msg);
}

/*
 * Make the running cards those of @cfg: keep the unchanged ones, stop
 * those that went or changed, start the new ones. Returns the number of
 * cards that could not even begin to start (logged), or -1 if out of
 * memory.
 */
static int apply_cards(struct daemon *dm, const struct cfg *cfg,
		       GString *report, unsigned int *nstarted)
{
	struct card **fresh = calloc(cfg->ncards + 1, sizeof(*fresh));
	bool *keep = calloc(cfg->ncards + 1, sizeof(*keep));
	size_t nfresh = 0, kept = 0, removed = 0;
	int failed = 0;

	*nstarted = 0;
	if (!fresh || !keep) {
		free(fresh);
		free(keep);
		return -1;
	}
	for (size_t i = 0; i < cfg->ncards; i++)
		keep[i] = kept_card(dm, &cfg->cards[i]) != NULL;

	/* out first: the new cards may need their ports, sockets, readers */
	for (size_t r = 0; r < dm->nrd; r++) {
		struct reader *rd = &dm->readers[r];

		for (unsigned int s = 0; s < CCIDG_MAX_SLOTS; s++) {
			struct card *c = rd->slot[s];
			bool stays = false;

			if (!c)
				continue;
			for (size_t i = 0; i < cfg->ncards && !stays; i++)
				stays = keep[i] && cfg->cards[i].controller == rd->index &&
					cfg->cards[i].slot == s;
			if (stays) {
				kept++;
				continue;
			}
			say(report, "card %s: taken out (%s)", c->name,
			    c->start_err ? "it had failed" : "gone from the file or changed");
			rd->slot[s] = NULL;
			card_free(c);
			removed++;
		}
	}
	for (size_t i = 0; i < cfg->ncards; i++) {
		const struct cfg_card *cf = &cfg->cards[i];
		struct reader *rd = reader_of(dm, cf->controller);
		struct card *c;

		if (keep[i] || !rd)
			continue;
		c = card_new(&dm->o->env, cf, &sink_ops, dm);
		if (!c) {
			dlog("out of memory");
			failed++;
			continue;
		}
		rd->slot[cf->slot] = c;
		fresh[nfresh++] = c;
	}
	if (card_prepare(fresh, nfresh)) {
		for (size_t i = 0; i < nfresh; i++) {
			struct reader *rd = reader_of(dm, fresh[i]->conf.controller);

			say(report, "card %s: not started (its backend could not be set up)",
			    fresh[i]->name);
			rd->slot[fresh[i]->conf.slot] = NULL;
			card_free(fresh[i]);
		}
		failed += (int)nfresh;
		nfresh = 0;
	}
	for (size_t i = 0; i < nfresh; i++) {
		struct card *c = fresh[i];

		if (!dm->serving)
			dm->starting++;
		if (card_start(c)) {
			struct reader *rd = reader_of(dm, c->conf.controller);

			if (!dm->serving)
				dm->starting--;
			say(report, "card %s: cannot start", c->name);
			rd->slot[c->conf.slot] = NULL;
			card_free(c);
			failed++;
			continue;
		}
		(*nstarted)++;
		if (dm->serving)
			say(report, "card %s: new, started (%s)", c->name,
			    cfg_mode_name(c->conf.mode));
	}
	if (dm->serving)
		say(report, "reload: %zu card%s kept, %zu taken out, %u started%s",
		    kept, kept == 1 ? "" : "s", removed, *nstarted,
		    failed ? ", some failed (see above)" : "");
	free(fresh);
	free(keep);
	return failed;
}

static void start_done(struct daemon *dm)
{
	size_t n = 0;

	dm->serving = true;
	if (dm->start_failed) {
		dlog("not serving: a card could not start (see above)");
		dm->rc = 1;
		g_main_loop_quit(dm->loop);
		return;
	}
	for (size_t i = 0; i < dm->nrd; i++)
		for (unsigned int s = 0; s < CCIDG_MAX_SLOTS; s++)
			n += dm->readers[i].slot[s] != NULL;
	dlog("serving %zu card(s) on %zu reader(s)", n, dm->nrd);
	/* systemd's Type=notify: ready once the cards are in (no-op elsewhere) */
	sd_notifyf(0, "READY=1\nSTATUS=serving %zu card(s) on %zu reader(s)",
		   n, dm->nrd);
	if (dm->o->ready_fd >= 0) {
		if (write(dm->o->ready_fd, "ready\n", 6) < 0)
			perror("ccidctl: ready fd");
		close(dm->o->ready_fd);
	}
}

static int reload_file(struct daemon *dm, GString *report);

/* Reload o->file. 0 if applied; -1 if it changed nothing (why in report) */
static int reload(struct daemon *dm, GString *report)
{
	int rc;

	if (!dm->serving) {
		say(report, "reload: not yet: ccidctl is still starting");
		return -1;
	}
	sd_notify(0, "RELOADING=1");
	rc = reload_file(dm, report);
	sd_notify(0, "READY=1");
	return rc;
}

static int reload_file(struct daemon *dm, GString *report)
{
	struct cfg *cfg = NULL;
	unsigned int started;
	struct diag d;
	char *msgs;
	int rc = -1, failed;

	say(report, "reload: reading %s", dm->o->file);
	diag_init(&d, dm->o->file);
	if (plan_load(dm->o->file, dm->o->schema, &dm->o->env, &cfg, &d) == 0 &&
	    check_shape(dm, cfg, &d) == 0 &&
	    card_check_reload(cfg, &dm->o->env, &d) == 0)
		rc = 0;
	msgs = diag_join(&d);
	if (msgs && *msgs) {
		dlog("%s", g_strchomp(msgs));
		if (report)
			g_string_append_printf(report, "%s\n", msgs);
	}
	free(msgs);
	diag_free(&d);
	if (rc) {
		cfg_free(cfg);
		say(report, "reload: not applied, nothing changed");
		return -1;
	}
	failed = apply_cards(dm, cfg, report, &started);
	cfg_free(dm->cfg);
	dm->cfg = cfg;
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* signals and the control socket */

static gboolean on_signal(gint fd, GIOCondition cond, gpointer data)
{
	struct daemon *dm = data;
	struct signalfd_siginfo si;

	(void)cond;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return G_SOURCE_CONTINUE;
	if (si.ssi_signo == SIGHUP) {
		dlog("signal %u (SIGHUP): reloading", si.ssi_signo);
		reload(dm, NULL);
		return G_SOURCE_CONTINUE;
	}
	dlog("signal %u, stopping", si.ssi_signo);
	sd_notify(0, "STOPPING=1");
	g_main_loop_quit(dm->loop);
	return G_SOURCE_CONTINUE;
}

static void control_answer(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

static gboolean on_control(gint fd, GIOCondition cond, gpointer data)
{
	struct daemon *dm = data;
	struct timeval tv = { .tv_sec = 2 };
	GString *report;
	char line[128];
	ssize_t n;
	int c;

	(void)cond;
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return G_SOURCE_CONTINUE;
	/* a client gets two seconds to say what it wants, and to listen */
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!control_peer_allowed(c)) {
		control_answer(c, "not allowed: only root or ccidctl's own user may control it\nfailed\n");
		close(c);
		return G_SOURCE_CONTINUE;
	}
	n = read(c, line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	report = g_string_new(NULL);
	if (!strcmp(line, "reload")) {
		int r = reload(dm, report);

		g_string_append(report, r == 0 ? "ok\n" : "failed\n");
	} else {
		g_string_append_printf(report, "unknown command '%s'\nfailed\n", line);
	}
	control_answer(c, report->str);
	g_string_free(report, TRUE);
	close(c);
	return G_SOURCE_CONTINUE;
}

int daemon_reload_request(const char *control)
{
	int r = control_request(control, "reload", stdout);

	return r < 0 ? 1 : r;
}

/* ------------------------------------------------------------------ */
/* the run */

static int open_readers(struct daemon *dm)
{
	const struct cfg *cfg = dm->cfg;

	memset(&dm->g, 0, sizeof(dm->g));
	dm->g.vid = dm->o->vid;
	dm->g.pid = dm->o->pid;
	for (size_t i = 0; i < cfg->nctrls; i++) {
		dm->g.funcs[i].index = cfg->ctrls[i].index;
		dm->g.funcs[i].nslots = cfg->ctrls[i].nslots;
	}
	dm->g.nfuncs = cfg->nctrls;
	if (dm->o->udc) {
		snprintf(dm->g.udc, sizeof(dm->g.udc), "%s", dm->o->udc);
		if (gadget_up(&dm->g))
			return -1;
	} else {
		for (size_t i = 0; i < dm->g.nfuncs; i++)
			if (gadget_find_func(&dm->g.funcs[i]))
				return -1;
	}
	for (size_t i = 0; i < cfg->nctrls; i++) {
		struct reader *rd = &dm->readers[i];
		int err;

		rd->dm = dm;
		rd->index = cfg->ctrls[i].index;
		rd->devpath = dm->g.funcs[i].dev;
		err = ccidg_open(&rd->dev, rd->devpath);
		if (err) {
			dlog("%s (controller %u): %s%s", rd->devpath, rd->index,
			     strerror(-err),
			     err == -EBUSY ? " (another daemon has it open)" : "");
			return -1;
		}
		dm->nrd++;
		if (rd->dev.cfg.nslots < cfg->ctrls[i].nslots) {
			dlog("controller %u needs %u slots, %s has %u", rd->index,
			     cfg->ctrls[i].nslots, rd->devpath, rd->dev.cfg.nslots);
			return -1;
		}
		rd->watch = loop_watch_fd(rd->dev.fd, G_IO_IN, on_reader, rd);
	}
	return 0;
}

int daemon_run(struct cfg *cfg, const struct daemon_opts *o)
{
	struct daemon dm = { .o = o, .cfg = cfg, .rc = 1 };
	unsigned int started = 0;
	sigset_t mask;
	guint sigwatch = 0;
	int sfd, failed;

	dm.ctl.fd = -1;
	/*
	 * Block the signals before anything starts a thread: NSS, a
	 * PKCS#11 module (SoftHSM), libcacard and the resolver start their
	 * own, and a thread with SIGTERM unblocked would take the default
	 * action and kill the process instead of letting the loop stop
	 * cleanly (and SIGHUP's default is to stop, too).
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
		cfg_free(cfg);
		return 1;
	}
	dm.loop = g_main_loop_new(NULL, FALSE);
	dm.readers = calloc(cfg->nctrls ? cfg->nctrls : 1, sizeof(*dm.readers));
	if (!dm.readers) {
		dlog("out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->nctrls; i++)
		dm.readers[i].dev.fd = -1;

	if (o->control) {
		char err[512];
		int r = control_listen(&dm.ctl, o->control, err, sizeof(err));

		if (r == -EADDRINUSE) {
			dlog("%s: give this ccidctl a control socket of its own (--control)", err);
			goto out;
		}
		if (r)
			dlog("no control socket (%s): reload with SIGHUP only", err);
		else
			dm.ctl_watch = loop_watch_fd(dm.ctl.fd, G_IO_IN, on_control, &dm);
	}
	if (open_readers(&dm))
		goto out_readers;
	sigwatch = loop_watch_fd(sfd, G_IO_IN, on_signal, &dm);

	failed = apply_cards(&dm, cfg, NULL, &started);
	if (failed) {
		dlog("not serving: a card could not start (see above)");
		goto out_cards;
	}
	dm.start_armed = true;
	if (!dm.starting)
		start_done(&dm);
	dm.rc = 0;
	g_main_loop_run(dm.loop);
	if (dm.start_failed)
		dm.rc = 1;

out_cards:
	/* cards out, backends stopped, gadget as we found it */
	for (size_t i = 0; i < dm.nrd; i++)
		for (unsigned int s = 0; s < CCIDG_MAX_SLOTS; s++) {
			card_free(dm.readers[i].slot[s]);
			dm.readers[i].slot[s] = NULL;
		}
	if (dm.reap)
		g_source_remove(dm.reap);
	if (sigwatch)
		g_source_remove(sigwatch);
out_readers:
	for (size_t i = 0; i < dm.nrd; i++) {
		if (dm.readers[i].watch)
			g_source_remove(dm.readers[i].watch);
		ccidg_close(&dm.readers[i].dev);
	}
	if (o->udc && gadget_down(&dm.g))
		dm.rc = 1;
out:
	if (dm.ctl_watch)
		g_source_remove(dm.ctl_watch);
	control_close(&dm.ctl);
	free(dm.readers);
	g_main_loop_unref(dm.loop);
	close(sfd);
	cfg_free(dm.cfg);
	xmlcfg_cleanup();
	return dm.rc;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * backend_cacard.c -- cards emulated by libcacard: modes host and
 * host-certificates
 *
 * host-certificates: a CAC card made by libcacard from three certificates
 * (and their keys) of an NSS database, as QEMU's ccid-card-emulated with
 * backend=certificates. host: the host's own tokens, as libcacard sees them
 * through NSS (QEMU's backend=nss-emulated).
 *
 * libcacard is process-global: one vcard_emul_init() with one NSS database,
 * which makes every emulated card there will be. So all cards of one
 * ccidctl agree on the database, and a reload can serve a host-certificates
 * card only with a certificate set libcacard was given at its start (or
 * start libcacard, if no card used it yet). The readers libcacard has, soft
 * ones for host-certificates and hardware ones for host, are kept in a
 * table; a card takes a free reader that fits it when it starts and gives
 * it back when it stops, so that an unchanged reload keeps the session.
 *
 * Threads: libcacard reports readers and cards coming and going on a
 * blocking event queue, read by one thread; each card has a worker thread
 * that runs its APDUs (an RSA operation on a hardware token may take a
 * while) in order with its power events. Both hand their results to the
 * main loop through the card's pipe; everything touching the kernel
 * happens on the loop's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <libcacard.h>

#include "backend.h"
#include "loop.h"

#define RSP_MAX		(65536 + 2)
#define JOBS_MAX	8
#define ATR_MAX		33
#define SOFT_PREFIX	"ccidctl soft "

enum { JOB_APDU, JOB_POWER_ON, JOB_POWER_OFF };
enum { NOTE_INSERT, NOTE_REMOVE, NOTE_REPLY, NOTE_ERROR };

struct job {
	int type;
	uint32_t id;
	uint8_t *data;
	size_t len;
};

/* What the threads tell the loop; data is malloc'ed, the loop frees it */
struct note {
	int type;
	uint32_t id;
	uint8_t *data;
	size_t len;
};

struct cac_card;

/* A reader libcacard has: a soft one of ours, or a hardware one */
struct cac_reader {
	char name[128];
	bool soft;
	char *cert[CFG_NCERTS];		/* soft: its certificates */
	VReader *r;			/* NULL until libcacard announces it */
	bool present;			/* a card is in it */
	uint8_t atr[ATR_MAX];
	int atr_len;
	struct cac_card *owner;
};

struct cac_card {
	struct card *card;
	int pipe[2];
	guint watch;
	struct cac_reader *rd;		/* cac.mu; NULL: host card waiting */

	pthread_mutex_t mu;		/* protects the job queue */
	pthread_cond_t cv;
	struct job jobs[JOBS_MAX];
	unsigned int head, njobs;
	bool quit;
	bool worker_started;
	pthread_t worker;
};

static struct {
	pthread_mutex_t mu;		/* the table, owners, waiting */
	bool inited;
	bool use_hw;
	char *db;
	struct cac_reader **readers;
	size_t nreaders;
	struct cac_card **waiting;	/* host cards without a reader */
	size_t nwaiting;
	bool thread_started;
	pthread_t events;
	unsigned int soft_seq;
} cac = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void post(struct cac_card *cc, int type, uint32_t id,
		 const uint8_t *data, size_t len)
{
	struct note n = { .type = type, .id = id, .len = len };

	if (len) {
		n.data = malloc(len);
		if (!n.data) {
			n.type = type == NOTE_REPLY ? NOTE_ERROR : type;
			n.len = 0;
		} else {
			memcpy(n.data, data, len);
		}
	}
	/* A pipe write of this size is atomic; the loop reads them whole */
	if (write(cc->pipe[1], &n, sizeof(n)) != sizeof(n))
		free(n.data);
}

/* ------------------------------------------------------------------ */
/* the reader table (cac.mu held) */

static struct cac_reader *reader_by(VReader *r, const char *name)
{
	for (size_t i = 0; i < cac.nreaders; i++) {
		struct cac_reader *e = cac.readers[i];

		if ((r && e->r == r) || (name && !strcmp(e->name, name)))
			return e;
	}
	return NULL;
}

static struct cac_reader *reader_add(const char *name, bool soft)
{
	struct cac_reader *e = calloc(1, sizeof(*e));
	struct cac_reader **p;

	if (!e)
		return NULL;
	p = realloc(cac.readers, (cac.nreaders + 1) * sizeof(*p));
	if (!p) {
		free(e);
		return NULL;
	}
	cac.readers = p;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->soft = soft;
	cac.readers[cac.nreaders++] = e;
	return e;
}

static void reader_del(struct cac_reader *e)
{
	size_t i, w;

	for (i = 0, w = 0; i < cac.nreaders; i++)
		if (cac.readers[i] != e)
			cac.readers[w++] = cac.readers[i];
	cac.nreaders = w;
	if (e->r)
		vreader_free(e->r);
	for (int k = 0; k < CFG_NCERTS; k++)
		free(e->cert[k]);
	free(e);
}

static void waiting_remove(struct cac_card *cc)
{
	size_t i, w;

	for (i = 0, w = 0; i < cac.nwaiting; i++)
		if (cac.waiting[i] != cc)
			cac.waiting[w++] = cac.waiting[i];
	cac.nwaiting = w;
}

/* Give reader @e to card @cc and tell it what is in the reader. */
static void reader_give(struct cac_reader *e, struct cac_card *cc)
{
	e->owner = cc;
	cc->rd = e;
	if (e->present && e->atr_len > 0)
		post(cc, NOTE_INSERT, 0, e->atr, (size_t)e->atr_len);
}

/* A hardware reader without owner goes to the first host card waiting. */
static void hw_assign(struct cac_reader *e)
{
	struct cac_card *cc;

	if (e->soft || e->owner || !cac.nwaiting)
		return;
	cc = cac.waiting[0];
	waiting_remove(cc);
	reader_give(e, cc);
}

static void *event_thread(void *arg)
{
	(void)arg;
	for (;;) {
		VEvent *ev = vevent_wait_next_vevent();
		struct cac_reader *e = NULL;
		const char *name;

		if (!ev)
			continue;
		if (ev->type == VEVENT_LAST) {
			vevent_delete(ev);
			break;
		}
		pthread_mutex_lock(&cac.mu);
		name = ev->reader ? vreader_get_name(ev->reader) : NULL;
		if (ev->reader)
			e = reader_by(ev->reader, name);
		if (!e && ev->reader && name && ev->type != VEVENT_READER_REMOVE &&
		    strncmp(name, SOFT_PREFIX, strlen(SOFT_PREFIX)) != 0)
			e = reader_add(name, false);
		if (e && !e->r && ev->reader)
			e->r = vreader_reference(ev->reader);
		switch (e ? ev->type : VEVENT_LAST) {
		case VEVENT_READER_INSERT:
			hw_assign(e);
			break;
		case VEVENT_CARD_INSERT: {
			unsigned char atr[64];
			int atr_len = sizeof(atr);

			/*
			 * The card's own ATR, from a power-on, as QEMU's
			 * ccid-card-emulated and vscclient take it: for a CAC
			 * card 3B 7A 18 00 00 "sfte cd144", not the emulator's
			 * generic 3B 89 00 "VCARD_NSS" of vcard_emul_get_atr().
			 */
			if (vreader_power_on(ev->reader, atr, &atr_len) != VREADER_OK) {
				atr_len = sizeof(atr);
				vcard_emul_get_atr(ev->card, atr, &atr_len);
			}
			if (atr_len < 2 || atr_len > ATR_MAX) {
				fprintf(stderr, "ccidctl: libcacard reader %s: an ATR of %d bytes, ignored\n",
					e->name, atr_len);
				break;
			}
			memcpy(e->atr, atr, (size_t)atr_len);
			e->atr_len = atr_len;
			e->present = true;
			if (e->owner)
				post(e->owner, NOTE_INSERT, 0, atr, (size_t)atr_len);
			else
				hw_assign(e);
			break;
		}
		case VEVENT_CARD_REMOVE:
			e->present = false;
			if (e->owner)
				post(e->owner, NOTE_REMOVE, 0, NULL, 0);
			break;
		case VEVENT_READER_REMOVE:
			e->present = false;
			if (e->owner)
				post(e->owner, NOTE_REMOVE, 0, NULL, 0);
			if (!e->soft) {
				struct cac_card *cc = e->owner;

				reader_del(e);
				if (cc) {
					struct cac_card **p;

					cc->rd = NULL;
					p = realloc(cac.waiting, (cac.nwaiting + 1) * sizeof(*p));
					if (p) {
						cac.waiting = p;
						cac.waiting[cac.nwaiting++] = cc;
					}
				}
			}
			break;
		default:
			break;
		}
		pthread_mutex_unlock(&cac.mu);
		vevent_delete(ev);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* each card's worker */

static void *worker_thread(void *arg)
{
	struct cac_card *cc = arg;
	uint8_t *rsp = malloc(RSP_MAX);

	pthread_mutex_lock(&cc->mu);
	for (;;) {
		struct job j;
		VReader *r;

		while (!cc->njobs && !cc->quit)
			pthread_cond_wait(&cc->cv, &cc->mu);
		if (cc->quit)
			break;
		j = cc->jobs[cc->head];
		cc->head = (cc->head + 1) % JOBS_MAX;
		cc->njobs--;
		pthread_mutex_unlock(&cc->mu);

		pthread_mutex_lock(&cac.mu);
		r = cc->rd && cc->rd->r ? vreader_reference(cc->rd->r) : NULL;
		pthread_mutex_unlock(&cac.mu);

		if (j.type == JOB_APDU) {
			int len = RSP_MAX;
			VReaderStatus st = VREADER_NO_CARD;

			if (r && rsp)
				st = vreader_xfr_bytes(r, j.data, (int)j.len, rsp, &len);
			if (st == VREADER_OK && len >= 2 && len <= RSP_MAX)
				post(cc, NOTE_REPLY, j.id, rsp, (size_t)len);
			else
				post(cc, NOTE_ERROR, j.id, NULL, 0);
		} else if (r && j.type == JOB_POWER_ON) {
			unsigned char atr[64];
			int atr_len = sizeof(atr);

			vreader_power_on(r, atr, &atr_len);
		} else if (r && j.type == JOB_POWER_OFF) {
			vreader_power_off(r);
		}
		free(j.data);
		if (r)
			vreader_free(r);
		pthread_mutex_lock(&cc->mu);
	}
	pthread_mutex_unlock(&cc->mu);
	free(rsp);
	return NULL;
}

static int queue_job(struct cac_card *cc, int type, uint32_t id,
		     const uint8_t *data, size_t len)
{
	struct job *j;

	pthread_mutex_lock(&cc->mu);
	if (cc->njobs == JOBS_MAX) {
		pthread_mutex_unlock(&cc->mu);
		return -1;
	}
	j = &cc->jobs[(cc->head + cc->njobs) % JOBS_MAX];
	j->type = type;
	j->id = id;
	j->len = len;
	j->data = NULL;
	if (len) {
		j->data = malloc(len);
		if (!j->data) {
			pthread_mutex_unlock(&cc->mu);
			return -1;
		}
		memcpy(j->data, data, len);
	}
	cc->njobs++;
	pthread_cond_signal(&cc->cv);
	pthread_mutex_unlock(&cc->mu);
	return 0;
}

/* ------------------------------------------------------------------ */
/* checks */

/* The database the cards and --host-db settle on, or NULL (messages in d) */
static const char *agreed_db(const struct cfg *cfg, const struct card_env *env,
			     struct diag *d, unsigned long *line)
{
	const struct cfg_card *first = NULL;
	const char *db = NULL;
	bool bad = false;

	for (size_t i = 0; i < cfg->ncards; i++) {
		const struct cfg_card *c = &cfg->cards[i];

		if (c->mode != CFG_MODE_HOST_CERTIFICATES || !c->database)
			continue;
		if (!db) {
			db = c->database;
			first = c;
			*line = c->database_given ? c->database_line : c->line;
			continue;
		}
		if (strcmp(db, c->database)) {
			diag_add(d, c->database_given ? c->database_line : c->line,
				 "smartcards %u.%u and %u.%u use different NSS databases (%s, %s): libcacard serves one database per process",
				 first->controller, first->slot, c->controller,
				 c->slot, db, c->database);
			bad = true;
		}
	}
	if (env->host_db && db && strcmp(db, env->host_db)) {
		diag_add(d, *line,
			 "--host-db %s differs from the certificates' database %s: libcacard serves one database per process",
			 env->host_db, db);
		bad = true;
	}
	if (bad)
		return NULL;
	return db ? db : env->host_db ? env->host_db : CFG_DEFAULT_DATABASE;
}

static bool uses_cacard(const struct cfg *cfg, bool *host, bool *certs)
{
	*host = *certs = false;
	for (size_t i = 0; i < cfg->ncards; i++) {
		if (cfg->cards[i].mode == CFG_MODE_HOST)
			*host = true;
		else if (cfg->cards[i].mode == CFG_MODE_HOST_CERTIFICATES)
			*certs = true;
	}
	return *host || *certs;
}

static void cac_check(const struct cfg *cfg, const struct card_env *env,
		      struct diag *d)
{
	unsigned long line = 0;
	bool host, certs;
	const char *db;
	char path[4200];
	struct stat st;

	if (!uses_cacard(cfg, &host, &certs))
		return;
	db = agreed_db(cfg, env, d, &line);
	if (!db)
		return;
	if (strpbrk(db, ",()\"")) {
		diag_add(d, line, "NSS database path '%s' has a character libcacard cannot take (, ( ) \")",
			 db);
		return;
	}
	if (env->offline)
		return;
	if (stat(db, &st) < 0) {
		diag_add(d, line, "NSS database %s: %s", db, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		diag_add(d, line, "NSS database %s: not a directory", db);
		return;
	}
	snprintf(path, sizeof(path), "%s/cert9.db", db);
	if (access(path, R_OK) == 0)
		return;
	snprintf(path, sizeof(path), "%s/cert8.db", db);
	if (access(path, R_OK) == 0)
		return;
	diag_add(d, line, "NSS database %s has no cert9.db (nor cert8.db): make one with certutil -N -d sql:%s",
		 db, db);
}

static bool same_certs(const struct cac_reader *e, const struct cfg_card *c)
{
	for (int k = 0; k < CFG_NCERTS; k++)
		if (!e->cert[k] || !c->cert[k] || strcmp(e->cert[k], c->cert[k]))
			return false;
	return true;
}

static void cac_check_reload(const struct cfg *cfg, const struct card_env *env,
			     struct diag *d)
{
	bool host, certs;

	(void)env;
	if (!uses_cacard(cfg, &host, &certs))
		return;
	pthread_mutex_lock(&cac.mu);
	if (!cac.inited)
		goto out;	/* libcacard starts with these cards */
	if (host && !cac.use_hw)
		diag_add(d, 0,
			 "mode='host' needs a restart of ccidctl: libcacard started without the host's tokens, and starts once per process");
	for (size_t i = 0; i < cfg->ncards; i++) {
		const struct cfg_card *c = &cfg->cards[i];
		size_t need = 0, have = 0;

		if (c->mode != CFG_MODE_HOST_CERTIFICATES)
			continue;
		if (strcmp(c->database, cac.db)) {
			diag_add(d, c->line,
				 "smartcard %u.%u uses NSS database %s; libcacard serves %s in this process: restart ccidctl to change it",
				 c->controller, c->slot, c->database, cac.db);
			continue;
		}
		for (size_t j = 0; j < cfg->ncards; j++)
			if (cfg->cards[j].mode == CFG_MODE_HOST_CERTIFICATES) {
				bool eq = true;

				for (int k = 0; k < CFG_NCERTS; k++)
					eq = eq && !strcmp(cfg->cards[j].cert[k], c->cert[k]);
				need += eq;
			}
		for (size_t j = 0; j < cac.nreaders; j++)
			have += cac.readers[j]->soft && same_certs(cac.readers[j], c);
		if (need > have)
			diag_add(d, c->line,
				 "smartcard %u.%u: libcacard makes its emulated cards once per process, at its start; it made %zu with the certificates '%s' '%s' '%s', and this file needs %zu: restart ccidctl to serve it",
				 c->controller, c->slot, have, c->cert[0], c->cert[1],
				 c->cert[2], need);
	}
out:
	pthread_mutex_unlock(&cac.mu);
}

/* ------------------------------------------------------------------ */
/* the backend */

static int cac_prepare(struct card **cards, size_t n)
{
	const char *db = NULL;
	bool any_host = false;
	GString *opts;
	VCardEmulOptions *o;
	int rc = -1;

	pthread_mutex_lock(&cac.mu);
	if (cac.inited) {
		pthread_mutex_unlock(&cac.mu);
		return 0;	/* the cards take their readers at start */
	}
	for (size_t i = 0; i < n; i++) {
		const struct cfg_card *cf = &cards[i]->conf;

		if (cf->mode == CFG_MODE_HOST)
			any_host = true;
		else if (!db)
			db = cf->database;
	}
	if (!db)
		db = cards[0]->env->host_db ? cards[0]->env->host_db :
		     CFG_DEFAULT_DATABASE;
	/*
	 * Hardware tokens through NSS: "removable" rather than QEMU's
	 * default "yes", because software tokens (SoftHSM) that present
	 * removable slots are cards too, and real readers are removable.
	 */
	opts = g_string_new(NULL);
	g_string_append_printf(opts, "db=\"%s\" use_hw=%s", db,
			       any_host ? "removable" : "no");
	for (size_t i = 0; i < n; i++) {
		const struct cfg_card *cf = &cards[i]->conf;
		struct cac_reader *e;
		char name[64];

		if (cf->mode != CFG_MODE_HOST_CERTIFICATES)
			continue;
		snprintf(name, sizeof(name), SOFT_PREFIX "%u", cac.soft_seq++);
		e = reader_add(name, true);
		if (!e)
			goto out;
		for (int k = 0; k < CFG_NCERTS; k++) {
			e->cert[k] = strdup(cf->cert[k]);
			if (!e->cert[k])
				goto out;
		}
		g_string_append_printf(opts, " soft=(,%s,CAC,,%s,%s,%s)", name,
				       cf->cert[0], cf->cert[1], cf->cert[2]);
	}
	if (cards[0]->env->verbose)
		fprintf(stderr, "ccidctl: libcacard options: %s\n", opts->str);
	o = vcard_emul_options(opts->str);
	if (!o) {
		fprintf(stderr, "ccidctl: libcacard refused its options\n");
		goto out;
	}
	/* the event thread is not running: its first events wait for it */
	if (vcard_emul_init(o) != VCARD_EMUL_OK) {
		fprintf(stderr, "ccidctl: libcacard could not open the NSS database %s (or a certificate is missing)\n",
			db);
		goto out;
	}
	cac.inited = true;
	cac.use_hw = any_host;
	cac.db = strdup(db);
	if (pthread_create(&cac.events, NULL, event_thread, NULL) == 0)
		cac.thread_started = true;
	else
		fprintf(stderr, "ccidctl: cannot start libcacard's event thread\n");
	rc = cac.thread_started && cac.db ? 0 : -1;
out:
	if (rc && !cac.inited) {
		while (cac.nreaders)
			reader_del(cac.readers[0]);
	}
	pthread_mutex_unlock(&cac.mu);
	g_string_free(opts, TRUE);
	return rc;
}

static void cac_note(struct card *c, const struct note *n)
{
	switch (n->type) {
	case NOTE_INSERT:
		card_insert(c, n->data, n->len);
		break;
	case NOTE_REMOVE:
		card_eject(c);
		break;
	case NOTE_REPLY:
		card_reply(c, n->id, n->data, n->len);
		break;
	case NOTE_ERROR:
		card_fail(c, n->id, CARD_ERR_HW_ERROR);
		break;
	}
}

static gboolean on_pipe(gint fd, GIOCondition cond, gpointer data)
{
	struct cac_card *cc = data;
	struct note n;

	(void)cond;
	while (read(fd, &n, sizeof(n)) == sizeof(n)) {
		cac_note(cc->card, &n);
		free(n.data);
	}
	return G_SOURCE_CONTINUE;
}

static int cac_start(struct card *c)
{
	struct cac_card *cc = calloc(1, sizeof(*cc));
	const struct cfg_card *cf = &c->conf;

	if (!cc)
		return -1;
	c->priv = cc;
	cc->card = c;
	cc->pipe[0] = cc->pipe[1] = -1;
	pthread_mutex_init(&cc->mu, NULL);
	pthread_cond_init(&cc->cv, NULL);
	if (pipe2(cc->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		card_log(c, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pthread_create(&cc->worker, NULL, worker_thread, cc)) {
		card_log(c, "cannot start a thread");
		return -1;
	}
	cc->worker_started = true;
	cc->watch = loop_watch_fd(cc->pipe[0], G_IO_IN, on_pipe, cc);

	pthread_mutex_lock(&cac.mu);
	if (!cac.inited) {
		pthread_mutex_unlock(&cac.mu);
		card_log(c, "libcacard is not set up");
		return -1;
	}
	if (cf->mode == CFG_MODE_HOST_CERTIFICATES) {
		struct cac_reader *e = NULL;

		for (size_t i = 0; i < cac.nreaders && !e; i++)
			if (cac.readers[i]->soft && !cac.readers[i]->owner &&
			    same_certs(cac.readers[i], cf))
				e = cac.readers[i];
		if (!e) {
			pthread_mutex_unlock(&cac.mu);
			card_log(c, "libcacard has no free emulated card with these certificates");
			return -1;
		}
		reader_give(e, cc);
	} else {
		struct cac_reader *e = NULL;
		struct cac_card **p;

		for (size_t i = 0; i < cac.nreaders && !e; i++)
			if (!cac.readers[i]->soft && !cac.readers[i]->owner)
				e = cac.readers[i];
		if (e) {
			reader_give(e, cc);
		} else {
			p = realloc(cac.waiting, (cac.nwaiting + 1) * sizeof(*p));
			if (!p) {
				pthread_mutex_unlock(&cac.mu);
				return -1;
			}
			cac.waiting = p;
			cac.waiting[cac.nwaiting++] = cc;
		}
	}
	pthread_mutex_unlock(&cac.mu);
	card_started(c, 0, NULL);
	return 0;
}

static void cac_stop(struct card *c)
{
	struct cac_card *cc = c->priv;
	struct note n;

	if (!cc)
		return;
	if (cc->worker_started) {
		pthread_mutex_lock(&cc->mu);
		cc->quit = true;
		pthread_cond_signal(&cc->cv);
		pthread_mutex_unlock(&cc->mu);
		pthread_join(cc->worker, NULL);
	}
	/* give the reader back, so that the event thread forgets us */
	pthread_mutex_lock(&cac.mu);
	if (cc->rd) {
		cc->rd->owner = NULL;
		hw_assign(cc->rd);
	}
	cc->rd = NULL;
	waiting_remove(cc);
	pthread_mutex_unlock(&cac.mu);
	if (cc->watch)
		g_source_remove(cc->watch);
	if (cc->pipe[0] >= 0) {
		while (read(cc->pipe[0], &n, sizeof(n)) == sizeof(n))
			free(n.data);
		close(cc->pipe[0]);
		close(cc->pipe[1]);
	}
	for (unsigned int k = 0; k < cc->njobs; k++)
		free(cc->jobs[(cc->head + k) % JOBS_MAX].data);
	pthread_mutex_destroy(&cc->mu);
	pthread_cond_destroy(&cc->cv);
	free(cc);
	c->priv = NULL;
}

static void cac_power(struct card *c, bool on)
{
	if (queue_job(c->priv, on ? JOB_POWER_ON : JOB_POWER_OFF, 0, NULL, 0))
		card_log(c, "job queue full, power event dropped");
}

static void cac_apdu(struct card *c, uint32_t id, const uint8_t *apdu,
		     size_t len)
{
	if (queue_job(c->priv, JOB_APDU, id, apdu, len))
		card_fail(c, id, CARD_ERR_HW_ERROR);
}

static void cac_abort(struct card *c, uint32_t id)
{
	/* libcacard cannot interrupt an operation: the answer is dropped */
	(void)c;
	(void)id;
}

const struct card_backend cacard_backend = {
	.name = "libcacard",
	.modes = CARD_MODE_BIT(CFG_MODE_HOST) |
		 CARD_MODE_BIT(CFG_MODE_HOST_CERTIFICATES),
	.check = cac_check,
	.check_reload = cac_check_reload,
	.prepare = cac_prepare,
	.start = cac_start,
	.stop = cac_stop,
	.power = cac_power,
	.apdu = cac_apdu,
	.abort = cac_abort,
};

// SPDX-License-Identifier: GPL-2.0
/*
 * backend_cacard.c -- cards emulated by libcacard: modes host and
 * host-certificates
 *
 * host-certificates: a CAC card made by libcacard from three certificates
 * (and their keys) of an NSS database, as QEMU's ccid-card-emulated with
 * backend=certificates. host: the host's own tokens, as libcacard sees them
 * through NSS (QEMU's backend=nss-emulated). libcacard is process-global:
 * one vcard_emul_init() with one NSS database serves every card, so all
 * cards of one ccidctl must agree on the database.
 *
 * Threads: libcacard reports readers and cards coming and going on a
 * blocking event queue, read by one thread; each card has a worker thread
 * that runs its APDUs (an RSA operation on a hardware token may take a
 * while) in order with its power events. Both hand their results to the
 * event loop through the card's pipe; everything touching the kernel
 * happens on the loop's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <libcacard.h>

#include "card.h"

/* Soft readers are named after their slot; hardware ones are not ours */
#define SOFT_PREFIX	"ccidctl "
#define RSP_MAX		(65536 + 2)
#define JOBS_MAX	8

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

struct cac_card {
	struct card *card;
	bool soft;
	char reader_name[64];
	int pipe[2];

	pthread_mutex_t mu;	/* protects everything below */
	pthread_cond_t cv;
	VReader *reader;	/* the libcacard reader holding our card */
	struct job jobs[JOBS_MAX];
	unsigned int head, njobs;
	bool quit;
	bool started;
	pthread_t worker;
};

static struct {
	pthread_mutex_t mu;
	struct cac_card **cards;
	size_t n;
	bool inited;
	bool thread_started;
	pthread_t events;
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

/* Which of our cards does a libcacard reader belong to? cac.mu held. */
static struct cac_card *card_of_reader(VReader *r, bool assign)
{
	const char *name = vreader_get_name(r);
	size_t i;

	for (i = 0; i < cac.n; i++)
		if (cac.cards[i]->reader == r)
			return cac.cards[i];
	if (!name)
		return NULL;
	for (i = 0; i < cac.n; i++) {
		struct cac_card *cc = cac.cards[i];

		if (cc->soft && strcmp(cc->reader_name, name) == 0)
			return cc;
	}
	if (!assign || strncmp(name, SOFT_PREFIX, strlen(SOFT_PREFIX)) == 0)
		return NULL;
	/* A hardware reader: the first host card without one takes it */
	for (i = 0; i < cac.n; i++) {
		struct cac_card *cc = cac.cards[i];

		if (!cc->soft && !cc->reader) {
			snprintf(cc->reader_name, sizeof(cc->reader_name), "%s", name);
			return cc;
		}
	}
	return NULL;
}

static void *event_thread(void *arg)
{
	(void)arg;
	for (;;) {
		VEvent *ev = vevent_wait_next_vevent();
		struct cac_card *cc;
		unsigned char atr[64];
		int atr_len = sizeof(atr);

		if (!ev)
			continue;
		if (ev->type == VEVENT_LAST) {
			vevent_delete(ev);
			break;
		}
		pthread_mutex_lock(&cac.mu);
		cc = ev->reader ? card_of_reader(ev->reader,
						 ev->type == VEVENT_CARD_INSERT) : NULL;
		if (cc) {
			pthread_mutex_lock(&cc->mu);
			switch (ev->type) {
			case VEVENT_CARD_INSERT:
				if (cc->reader != ev->reader) {
					if (cc->reader)
						vreader_free(cc->reader);
					cc->reader = vreader_reference(ev->reader);
				}
				/*
				 * The card's own ATR, from a power-on, as QEMU's
				 * ccid-card-emulated and vscclient take it: for a
				 * CAC card 3B 7A 18 00 00 "sfte cd144", not the
				 * emulator's generic 3B 89 00 "VCARD_NSS" that
				 * vcard_emul_get_atr() gives.
				 */
				if (vreader_power_on(ev->reader, atr, &atr_len) != VREADER_OK) {
					atr_len = sizeof(atr);
					vcard_emul_get_atr(ev->card, atr, &atr_len);
				}
				if (atr_len > 0 && atr_len <= 33)
					post(cc, NOTE_INSERT, 0, atr, atr_len);
				else
					card_log(cc->card, "libcacard gave an ATR of %d bytes", atr_len);
				break;
			case VEVENT_CARD_REMOVE:
				post(cc, NOTE_REMOVE, 0, NULL, 0);
				break;
			case VEVENT_READER_REMOVE:
				post(cc, NOTE_REMOVE, 0, NULL, 0);
				if (cc->reader)
					vreader_free(cc->reader);
				cc->reader = NULL;
				break;
			default:
				break;
			}
			pthread_mutex_unlock(&cc->mu);
		}
		pthread_mutex_unlock(&cac.mu);
		vevent_delete(ev);
	}
	return NULL;
}

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
		r = cc->reader ? vreader_reference(cc->reader) : NULL;
		pthread_mutex_unlock(&cc->mu);

		if (j.type == JOB_APDU) {
			int len = RSP_MAX;
			VReaderStatus st = VREADER_NO_CARD;

			if (r && rsp)
				st = vreader_xfr_bytes(r, j.data, j.len, rsp, &len);
			if (st == VREADER_OK && len >= 2 && len <= RSP_MAX)
				post(cc, NOTE_REPLY, j.id, rsp, len);
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

/* A nickname or path we put into libcacard's option string */
static bool option_safe(const char *s)
{
	return s && *s && !strpbrk(s, ",()\"\n");
}

int cacard_prepare(struct card **cards, size_t n, const char *host_db)
{
	const char *db = NULL;
	bool any_host = false;
	size_t i, len = 0, cap = 1024;
	char *opts;
	VCardEmulOptions *o;

	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		const struct cfg_card *cf = cards[i]->conf;

		if (cf->mode == CFG_MODE_HOST) {
			any_host = true;
			continue;
		}
		if (db && strcmp(db, cf->database) != 0) {
			fprintf(stderr,
				"ccidctl: cards %s and %s use different NSS databases (%s, %s): libcacard serves one database per process\n",
				cards[0]->name, cards[i]->name, db, cf->database);
			return -1;
		}
		db = cf->database;
	}
	if (host_db) {
		if (db && strcmp(db, host_db) != 0) {
			fprintf(stderr,
				"ccidctl: --host-db %s differs from the certificates' database %s: libcacard serves one database per process\n",
				host_db, db);
			return -1;
		}
		db = host_db;
	}
	if (!db)
		db = CFG_DEFAULT_DATABASE;
	if (!option_safe(db)) {
		fprintf(stderr, "ccidctl: NSS database path '%s' has a character libcacard cannot take (, ( ) \")\n", db);
		return -1;
	}

	opts = malloc(cap);
	if (!opts)
		return -1;
	/*
	 * Hardware tokens through NSS: "removable" rather than QEMU's
	 * default "yes", because software tokens (SoftHSM) that present
	 * removable slots are cards too, and real readers are removable.
	 */
	len += snprintf(opts + len, cap - len, "db=\"%s\" use_hw=%s", db,
			any_host ? "removable" : "no");
	cac.cards = calloc(n, sizeof(*cac.cards));
	if (!cac.cards) {
		free(opts);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct card *c = cards[i];
		const struct cfg_card *cf = c->conf;
		struct cac_card *cc = calloc(1, sizeof(*cc));

		if (!cc)
			goto oom;
		cc->card = c;
		cc->pipe[0] = cc->pipe[1] = -1;
		pthread_mutex_init(&cc->mu, NULL);
		pthread_cond_init(&cc->cv, NULL);
		c->priv = cc;
		cac.cards[cac.n++] = cc;
		/* Before vcard_emul_init(): its first events are for us */
		if (pipe2(cc->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
			fprintf(stderr, "ccidctl: pipe: %s\n", strerror(errno));
			free(opts);
			return -1;
		}
		if (cf->mode == CFG_MODE_HOST)
			continue;
		cc->soft = true;
		snprintf(cc->reader_name, sizeof(cc->reader_name), SOFT_PREFIX "%s", c->name);
		for (int k = 0; k < CFG_NCERTS; k++) {
			if (!option_safe(cf->cert[k])) {
				fprintf(stderr, "ccidctl: card %s: certificate nickname '%s' has a character libcacard cannot take (, ( ) \")\n",
					c->name, cf->cert[k] ? cf->cert[k] : "");
				free(opts);
				return -1;
			}
		}
		if (cap - len < 512) {
			char *p = realloc(opts, cap * 2);

			if (!p)
				goto oom;
			opts = p;
			cap *= 2;
		}
		len += snprintf(opts + len, cap - len, " soft=(,%s,CAC,,%s,%s,%s)",
				cc->reader_name, cf->cert[0], cf->cert[1], cf->cert[2]);
	}
	if (ccidctl_verbose)
		fprintf(stderr, "ccidctl: libcacard options: %s\n", opts);
	o = vcard_emul_options(opts);
	free(opts);
	if (!o) {
		fprintf(stderr, "ccidctl: libcacard refused its options\n");
		return -1;
	}
	if (vcard_emul_init(o) != VCARD_EMUL_OK) {
		fprintf(stderr, "ccidctl: libcacard could not open the NSS database %s (or a certificate is missing)\n",
			db);
		return -1;
	}
	cac.inited = true;
	return 0;
oom:
	free(opts);
	fprintf(stderr, "ccidctl: out of memory\n");
	return -1;
}

static int cac_start(struct card *c)
{
	struct cac_card *cc = c->priv;

	if (!cc || !cac.inited)
		return -1;
	if (pthread_create(&cc->worker, NULL, worker_thread, cc)) {
		card_log(c, "cannot start a thread");
		return -1;
	}
	cc->started = true;
	pthread_mutex_lock(&cac.mu);
	if (!cac.thread_started) {
		if (pthread_create(&cac.events, NULL, event_thread, NULL)) {
			pthread_mutex_unlock(&cac.mu);
			card_log(c, "cannot start a thread");
			return -1;
		}
		cac.thread_started = true;
	}
	pthread_mutex_unlock(&cac.mu);
	return 0;
}

static void cac_stop(struct card *c)
{
	struct cac_card *cc = c->priv;
	struct note n;
	size_t i, w;
	bool last;

	if (!cc)
		return;
	if (cc->started) {
		pthread_mutex_lock(&cc->mu);
		cc->quit = true;
		pthread_cond_signal(&cc->cv);
		pthread_mutex_unlock(&cc->mu);
		pthread_join(cc->worker, NULL);
		cc->started = false;
	}
	pthread_mutex_lock(&cac.mu);
	/* Forget it, so the event thread never sees a freed card */
	for (i = 0, w = 0; i < cac.n; i++)
		if (cac.cards[i] != cc)
			cac.cards[w++] = cac.cards[i];
	cac.n = w;
	last = w == 0;
	pthread_mutex_unlock(&cac.mu);
	if (cc->pipe[0] >= 0) {
		while (read(cc->pipe[0], &n, sizeof(n)) == sizeof(n))
			free(n.data);
		close(cc->pipe[0]);
		close(cc->pipe[1]);
	}
	for (unsigned int k = 0; k < cc->njobs; k++)
		free(cc->jobs[(cc->head + k) % JOBS_MAX].data);
	if (cc->reader)
		vreader_free(cc->reader);
	pthread_mutex_destroy(&cc->mu);
	pthread_cond_destroy(&cc->cv);
	free(cc);
	c->priv = NULL;
	if (last && cac.thread_started) {
		vevent_queue_vevent(vevent_new(VEVENT_LAST, NULL, NULL));
		pthread_join(cac.events, NULL);
		cac.thread_started = false;
		free(cac.cards);
		cac.cards = NULL;
	}
}

static int cac_pollfds(struct card *c, struct pollfd *p, int max)
{
	struct cac_card *cc = c->priv;

	if (!cc || cc->pipe[0] < 0 || max < 1)
		return 0;
	p[0].fd = cc->pipe[0];
	p[0].events = POLLIN;
	return 1;
}

static void cac_ready(struct card *c, const struct pollfd *p, int n)
{
	struct cac_card *cc = c->priv;
	struct note note;

	if (n < 1 || !(p[0].revents & POLLIN))
		return;
	while (read(cc->pipe[0], &note, sizeof(note)) == sizeof(note)) {
		switch (note.type) {
		case NOTE_INSERT:
			card_insert(c, note.data, note.len);
			break;
		case NOTE_REMOVE:
			card_eject(c);
			break;
		case NOTE_REPLY:
			card_reply(c, note.id, note.data, note.len);
			break;
		case NOTE_ERROR:
			card_reply_error(c, note.id);
			break;
		}
		free(note.data);
	}
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
		card_reply_error(c, id);
}

static void cac_abort(struct card *c, uint32_t id)
{
	/* libcacard cannot interrupt an operation: the answer is dropped */
	(void)c;
	(void)id;
}

static int cac_timeout(struct card *c)
{
	(void)c;
	return -1;
}

const struct card_ops cacard_ops = {
	.name = "libcacard",
	.start = cac_start,
	.stop = cac_stop,
	.pollfds = cac_pollfds,
	.ready = cac_ready,
	.timeout = cac_timeout,
	.power = cac_power,
	.apdu = cac_apdu,
	.abort = cac_abort,
};

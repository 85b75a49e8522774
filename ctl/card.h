/* SPDX-License-Identifier: GPL-2.0 */
/*
 * card.h -- the interface between ccidctl's event loop and card backends
 *
 * A card lives in one slot of one reader. Its backend makes it appear
 * (card_insert, with the ATR) and disappear (card_eject) whenever the card
 * behind it comes and goes, and answers every APDU it is given, once, with
 * card_reply or card_reply_error. Backends are driven from the single
 * event loop thread: they hand the loop file descriptors to poll and are
 * called back when those are ready. A backend that uses threads of its own
 * talks to the loop through such a descriptor.
 */
#ifndef CCIDCTL_CARD_H
#define CCIDCTL_CARD_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct card;
struct reader;

struct card_ops {
	const char *name;
	/* Start: connect, listen, or open the emulation. 0 or -1 (logged). */
	int (*start)(struct card *c);
	/* Stop and free everything the backend holds. */
	void (*stop)(struct card *c);
	/* Descriptors to poll now, at most max; returns how many. */
	int (*pollfds)(struct card *c, struct pollfd *p, int max);
	/* Those descriptors, with revents filled in. */
	void (*ready)(struct card *c, const struct pollfd *p, int n);
	/* Milliseconds until the backend wants ready() called anyway, or -1 */
	int (*timeout)(struct card *c);
	/* The host powered the slot on (warm or cold reset) or off */
	void (*power)(struct card *c, bool on);
	/* An APDU to answer with card_reply / card_reply_error */
	void (*apdu)(struct card *c, uint32_t id, const uint8_t *apdu,
		     size_t len);
	/* The APDU id was cancelled: its answer, if any, is not wanted */
	void (*abort)(struct card *c, uint32_t id);
};

struct card {
	const struct cfg_card *conf;
	struct reader *rd;
	unsigned int slot;
	char name[32];		/* "controller.slot", for logs */
	const struct card_ops *ops;
	void *priv;		/* the backend's */
	bool inserted;		/* the kernel has it */
	uint32_t pending;	/* APDU id given to the backend, 0 if none */
};

/* Called by backends */
void card_insert(struct card *c, const uint8_t *atr, size_t atr_len);
void card_eject(struct card *c);
void card_reply(struct card *c, uint32_t id, const uint8_t *rsp, size_t len);
void card_reply_error(struct card *c, uint32_t id);

/* Logging, to stderr, prefixed with the card's name */
void card_log(const struct card *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
extern int ccidctl_verbose;
/* How long a remote provider may take to answer an APDU; 0: forever */
extern int ccidctl_apdu_timeout_ms;
#define card_dbg(c, ...) \
	do { if (ccidctl_verbose) card_log((c), __VA_ARGS__); } while (0)

/* Backends */
extern const struct card_ops cacard_ops;	/* host, host-certificates */
extern const struct card_ops passthrough_ops;	/* VSCard or vpcd */

/*
 * libcacard is process-global: every card that uses it is announced before
 * any starts, so that the one vcard_emul_init() knows them all.
 */
int cacard_prepare(struct card **cards, size_t n, const char *host_db);

#endif /* CCIDCTL_CARD_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * card.h -- cards, between their owner (the daemon's readers) and their
 * backends
 *
 * A card lives in one slot of one reader. Its owner hands it what the USB
 * host does (power, command APDUs, aborts) with card_host_*(); its backend
 * (libcacard, a remote provider, ...) makes it appear and disappear with
 * card_insert() and card_eject() and answers every APDU it is given, once,
 * with card_reply() or card_fail(). What a card does goes to its sink: the
 * owner's callbacks, so that a test can stand in for the kernel.
 *
 * Everything a card needs to know about the process (options, limits) is
 * in the struct card_env it was created with; there are no globals. The
 * backends are reached through the table in card.c only: whoever creates
 * cards names no backend.
 *
 * Everything runs on the thread of GLib's default main context. A backend
 * with threads of its own hands their results to that thread.
 */
#ifndef CCIDCTL_CARD_H
#define CCIDCTL_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"

/* Largest response APDU the kernel takes: 65536 data bytes + SW1 SW2 */
#define CARD_MAX_RESPONSE	65538
#define CARD_MAX_COMMAND	65544

/* bError values the USB host sees when a command fails (CCID 6.2.6) */
#define CARD_ERR_ICC_MUTE	0xfe	/* the card did not answer */
#define CARD_ERR_XFR_OVERRUN	0xfc	/* the answer does not fit */
#define CARD_ERR_HW_ERROR	0xfb	/* the card reported a failure */

/* Defaults of the options below */
#define CARD_DEFAULT_APDU_TIMEOUT_MS	60000
#define CARD_DEFAULT_OPEN_TIMEOUT_MS	10000
#define CARD_DEFAULT_TLS_DIR		"/etc/pki/libvirt-chardev"

struct addrinfo;

/*
 * The options of one ccidctl run, shared by every card, and by the checks
 * that `validate` and `apply` both run (card_check()).
 */
struct card_env {
	bool verbose;
	/* NSS database for mode host, or NULL */
	const char *host_db;
	/* x509 credentials for tls='yes', laid out as libvirt's chardev dir */
	const char *tls_dir;
	/* verify the peer's certificate (libvirt's chardev_tls_x509_verify) */
	bool tls_verify;
	/* a passthrough provider must answer an APDU within this; 0: forever */
	int apdu_timeout_ms;
	/* ... and identify itself (TLS, VSCard Init, vpcd ATR) within this */
	int open_timeout_ms;
	/* checks only: leave out those that look at files and sockets */
	bool offline;
	/* tests only: resolve names with this instead of getaddrinfo() */
	int (*resolve)(const char *host, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res);
};

/* Fill in the defaults. */
void card_env_init(struct card_env *env);

struct card;

/* What a card does, for its owner to carry out. 0 or a negative errno. */
struct card_sink_ops {
	int (*insert)(void *owner, struct card *c, const uint8_t *atr,
		      size_t len);
	int (*remove)(void *owner, struct card *c);
	int (*reply)(void *owner, struct card *c, uint32_t id,
		     const uint8_t *rsp, size_t len);
	int (*fail)(void *owner, struct card *c, uint32_t id, uint8_t berror);
	/*
	 * Once per card_start(): the backend is up (0: listening, connected,
	 * emulating) or could not start (a negative errno; why says what).
	 */
	void (*started)(void *owner, struct card *c, int err, const char *why);
};

struct card_backend;

struct card {
	struct cfg_card conf;		/* the card's own copy */
	const struct card_env *env;
	const struct card_sink_ops *sink;
	void *owner;
	char name[32];			/* "controller.slot", for logs */
	const struct card_backend *be;
	void *priv;			/* the backend's */
	bool inserted;			/* the owner has it in its slot */
	bool powered;			/* the host powered it */
	uint32_t pending;		/* APDU id given to the backend, 0: none */
	bool started;			/* started() was reported */
	int start_err;			/* ... with this (0: it runs) */
	bool running;			/* card_start() succeeded, not stopped */
};

/* --- for the owner --------------------------------------------------- */

/*
 * Everything `apply` would refuse about these cards, as messages in @d:
 * what the backends cannot serve (one NSS database per process, two cards
 * on one endpoint, ...) and, unless env->offline, what is wrong on this
 * system (TLS credentials, an NSS database that is not there, a file
 * where a socket would go). Returns 0 or -1.
 */
int card_check(const struct cfg *cfg, const struct card_env *env,
	       struct diag *d);

/*
 * What the running backends cannot take from a new configuration @cfg
 * (a reload): -1 with the reasons in @d, or 0.
 */
int card_check_reload(const struct cfg *cfg, const struct card_env *env,
		      struct diag *d);

/* A card for @cf (copied), or NULL (out of memory, no backend). */
struct card *card_new(const struct card_env *env, const struct cfg_card *cf,
		      const struct card_sink_ops *sink, void *owner);

/*
 * Prepare what the backends share between cards, for these cards about
 * to start (libcacard is set up once per process and must know its cards
 * first). 0 or -1 (logged).
 */
int card_prepare(struct card **cards, size_t n);

/* Start: 0, and started() follows (maybe at once); or -1, logged. */
int card_start(struct card *c);

/* Stop the backend, take the card out, free it. NULL is fine. */
void card_free(struct card *c);

/* The USB host powered the slot on (warm or cold reset) or off. */
void card_host_power(struct card *c, bool on);
/* A command APDU, to be answered by id. */
void card_host_apdu(struct card *c, uint32_t id, const uint8_t *apdu,
		    size_t len);
/* The host cancelled APDU id. */
void card_host_abort(struct card *c, uint32_t id);
/* The owner's slot lost the card by itself (the kernel removed it). */
void card_host_removed(struct card *c);
/* The host went away: nothing pending is wanted any more. */
void card_host_gone(struct card *c);

/* --- for backends ---------------------------------------------------- */

void card_insert(struct card *c, const uint8_t *atr, size_t atr_len);
void card_eject(struct card *c);
/* Answer APDU id (SW1 SW2 included); a stale id is dropped. */
void card_reply(struct card *c, uint32_t id, const uint8_t *rsp, size_t len);
/* Fail APDU id: the host sees bmCommandStatus failed with @berror. */
void card_fail(struct card *c, uint32_t id, uint8_t berror);
/* The backend's start is done: 0 or a negative errno with a reason. */
void card_started(struct card *c, int err, const char *why);

/* Logging to stderr, prefixed with the card's name */
void card_log(const struct card *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define card_dbg(c, ...) \
	do { if ((c)->env->verbose) card_log((c), __VA_ARGS__); } while (0)

#endif /* CCIDCTL_CARD_H */

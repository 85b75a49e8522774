/* SPDX-License-Identifier: GPL-2.0 */
/*
 * backend.h -- what a card backend provides; seen by card.c and the
 * backends only
 */
#ifndef CCIDCTL_BACKEND_H
#define CCIDCTL_BACKEND_H

#include "card.h"

#define CARD_MODE_BIT(m)	(1u << (m))

struct card_backend {
	const char *name;
	unsigned int modes;	/* CARD_MODE_BIT() of the modes served */
	/*
	 * Everything apply would refuse about @cfg's cards of this backend
	 * (see card_check()); messages go to @d.
	 */
	void (*check)(const struct cfg *cfg, const struct card_env *env,
		      struct diag *d);
	/* What the running backend cannot take from @cfg (a reload) */
	void (*check_reload)(const struct cfg *cfg, const struct card_env *env,
			     struct diag *d);
	/* Shared set-up before these cards start; 0 or -1 (logged) */
	int (*prepare)(struct card **cards, size_t n);
	/* 0, then card_started() (maybe from within); or -1, logged */
	int (*start)(struct card *c);
	/* Stop and free everything the backend holds for the card */
	void (*stop)(struct card *c);
	void (*power)(struct card *c, bool on);
	/* An APDU to answer with card_reply() / card_fail() */
	void (*apdu)(struct card *c, uint32_t id, const uint8_t *apdu,
		     size_t len);
	/* APDU id was cancelled: its answer, if any, is not wanted */
	void (*abort)(struct card *c, uint32_t id);
};

extern const struct card_backend cacard_backend;	/* host, host-certificates */
extern const struct card_backend passthrough_backend;	/* VSCard, vpcd */

#endif /* CCIDCTL_BACKEND_H */

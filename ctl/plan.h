/* SPDX-License-Identifier: GPL-2.0 */
/*
 * plan.h -- the one pipeline from a file to what ccidctl will serve
 *
 * `validate`, `apply` and a reload all run plan_load(): read and validate
 * the XML, resolve what it leaves implicit as libvirt does (xml.c,
 * config.c), then check what ccidctl itself can serve (at most 16 readers,
 * what the card backends can take: card_check()). So whatever `apply`
 * would refuse before it touches anything, `validate` refuses too, with
 * the same message; only what depends on the running system at the very
 * moment (a port in use, a provider not answering) is left to `apply`.
 */
#ifndef CCIDCTL_PLAN_H
#define CCIDCTL_PLAN_H

#include "card.h"
#include "config.h"
#include "diag.h"

/* Readers one ccidctl serves: the functions of one gadget it sets up */
#define PLAN_MAX_READERS	16

/*
 * Load @file with the schema @schema (NULL: the default) and check it for
 * a run with @env. 0 with a configuration in *@out (cfg_free() it), or -1;
 * errors and warnings go to @d (diag_init()ed by the caller with @file).
 */
int plan_load(const char *file, const char *schema,
	      const struct card_env *env, struct cfg **out, struct diag *d);

/* The checks alone, on a resolved configuration. 0 or -1. */
int plan_check(const struct cfg *cfg, const struct card_env *env,
	       struct diag *d);

#endif /* CCIDCTL_PLAN_H */

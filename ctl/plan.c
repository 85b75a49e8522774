// SPDX-License-Identifier: GPL-2.0
/*
 * plan.c -- the one pipeline from a file to what ccidctl will serve
 */
#include <stdio.h>

#include "plan.h"
#include "xml.h"

int plan_check(const struct cfg *cfg, const struct card_env *env,
	       struct diag *d)
{
	size_t before = diag_count(d);

	if (cfg->nctrls > PLAN_MAX_READERS) {
		const struct cfg_controller *c = &cfg->ctrls[PLAN_MAX_READERS];

		diag_add(d, c->line,
			 "%zu ccid controllers: ccidctl serves at most %d (the functions of one gadget); controller %u is one too many",
			 cfg->nctrls, PLAN_MAX_READERS, c->index);
	}
	card_check(cfg, env, d);
	return diag_count(d) == before ? 0 : -1;
}

int plan_load(const char *file, const char *schema,
	      const struct card_env *env, struct cfg **out, struct diag *d)
{
	struct xmlcfg_opts opts = { .schema = schema };
	struct cfg *cfg = NULL;

	*out = NULL;
	if (xmlcfg_load_file(file, &opts, &cfg, d) < 0)
		return -1;
	if (plan_check(cfg, env, d) < 0) {
		cfg_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

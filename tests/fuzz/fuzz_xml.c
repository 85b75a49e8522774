// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_xml.c -- libFuzzer target: ccidctl's XML reader on arbitrary input
 * (parse, refuse DOCTYPE subsets, schema-validate, extract, resolve).
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"
#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xmlcfg_opts opts = { .builtin_schema = 1 };
	struct cfg *cfg = NULL;
	struct diag d;

	diag_init(&d, "fuzz.xml");
	if (xmlcfg_load_buffer((const char *)data, size, "fuzz.xml", &opts,
			       &cfg, &d) == 0)
		cfg_free(cfg);
	diag_free(&d);
	return 0;
}

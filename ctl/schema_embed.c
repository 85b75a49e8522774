// SPDX-License-Identifier: GPL-2.0
/*
 * schema_embed.c -- a copy of docs/schemas/ccidctl.rng inside the program
 *
 * ccidctl prefers a schema file (the tree's, or the installed one: see
 * xml.c); this copy is used when neither is there. The assembler pulls the file in at build time,
 * so there is one schema and no generated source. Rebuild this object when
 * the schema changes (ctl/ccidctl.mk says so to make).
 */
#ifndef CCIDCTL_SCHEMA_SRC
#define CCIDCTL_SCHEMA_SRC "docs/schemas"
#endif

__asm__(".pushsection .rodata\n"
	".globl ccidctl_rng_text\n"
	".type ccidctl_rng_text, @object\n"
	"ccidctl_rng_text:\n"
	".incbin \"" CCIDCTL_SCHEMA_SRC "/ccidctl.rng\"\n"
	".byte 0\n"
	".size ccidctl_rng_text, . - ccidctl_rng_text\n"
	".popsection\n");

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xml.h -- reading libvirt <smartcard> XML into a struct cfg
 *
 * Input: a whole libvirt <domain>, a <devices> element or one <smartcard>.
 * The document is read with libxml2 without network access and without
 * entity substitution; a DOCTYPE with an internal subset (the only place
 * entities could be declared, as no external DTD is ever loaded) is
 * refused before any of its declarations is parsed, and so is a file
 * larger than the size limit, before it is parsed at all. The document is
 * then validated against docs/schemas/ccidctl.rng, the smartcards and ccid
 * controllers are extracted, and cfg_resolve() checks and completes them.
 *
 * Every problem lands in the caller's struct diag as "file:line: text",
 * libxml2's own messages included.
 */
#ifndef CCIDCTL_XML_H
#define CCIDCTL_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "diag.h"

/* The extension namespace (see docs/schemas/ccidctl.rng). */
#define CCIDCTL_XMLNS	"http://ccid-gadget.invalid/xmlns/ccidctl/1"

/* Largest input accepted, in bytes. */
#define XMLCFG_MAX_SIZE	(1024 * 1024)
/* At most this many <smartcard> elements. */
#define XMLCFG_MAX_CARDS	1024
/* At most this many <controller type='ccid'> elements. */
#define XMLCFG_MAX_CONTROLLERS	256

struct xmlcfg_opts {
	/*
	 * Schema file. NULL: $CCIDCTL_SCHEMA if set, else the tree's
	 * docs/schemas/ccidctl.rng for a program run from its build tree,
	 * CCIDCTL_SCHEMA_DIR/ccidctl.rng (the installed one) for any other,
	 * if readable, else the copy built into the program.
	 */
	const char *schema;
	bool builtin_schema;	/* use the built-in copy, ignore the above */
	size_t max_size;	/* 0: XMLCFG_MAX_SIZE */
};

/* The built-in copy of docs/schemas/ccidctl.rng (schema_embed.c). */
extern const char ccidctl_rng_text[];

/*
 * Read @path. On success returns 0 and a resolved configuration in *@out
 * (free it with cfg_free()); otherwise returns -1 with the reasons in @d,
 * which the caller has set up with diag_init(d, path).
 */
int xmlcfg_load_file(const char *path, const struct xmlcfg_opts *opts,
		     struct cfg **out, struct diag *d);

/* The same for a document in memory; @name is used in libxml2's messages. */
int xmlcfg_load_buffer(const char *buf, size_t len, const char *name,
		       const struct xmlcfg_opts *opts, struct cfg **out,
		       struct diag *d);

/* Where the schema used by the last load came from (a path or "built-in"). */
const char *xmlcfg_schema_origin(void);

/*
 * The schema file a load without opts->schema and $CCIDCTL_SCHEMA reads,
 * in @buf; NULL if that file is not readable (the built-in copy is used).
 */
const char *xmlcfg_default_schema(char *buf, size_t n);

/* Free the cached schema (for leak checkers). */
void xmlcfg_cleanup(void);

#endif /* CCIDCTL_XML_H */

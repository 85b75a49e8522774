/* SPDX-License-Identifier: GPL-2.0 */
/*
 * diag.h -- error messages tied to a file and a line
 *
 * Everything ccidctl reports about a configuration file goes through a
 * struct diag, so that each message reads "FILE:LINE: what is wrong" (or
 * "FILE: what is wrong" when no line applies) however it was found: by
 * libxml2, by the schema, or by ccidctl's own checks.
 */
#ifndef CCIDCTL_DIAG_H
#define CCIDCTL_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* More than this many messages are counted, not kept. */
#define DIAG_MAX_MSGS	64

struct diag_msg {
	unsigned long line;	/* 0: the message is about the whole file */
	char *text;
	int warning;		/* a warning: printed, not counted as an error */
};

struct diag {
	char *file;		/* name used in messages */
	struct diag_msg *msgs;
	size_t n;
	size_t nwarn;		/* warnings among msgs */
	size_t dropped;		/* errors beyond DIAG_MAX_MSGS */
	size_t dropped_warn;	/* warnings beyond DIAG_MAX_MSGS */
	int oom;		/* a message could not be stored */
};

void diag_init(struct diag *d, const char *file);
void diag_free(struct diag *d);
void diag_add(struct diag *d, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * A warning: something that works but that the user should know about.
 * Printed as "file:line: warning: text"; diag_count() does not count it.
 */
void diag_warn(struct diag *d, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Number of errors reported, kept or not (warnings are not errors). */
size_t diag_count(const struct diag *d);
/* Number of warnings reported. */
size_t diag_warnings(const struct diag *d);
/* Print every message, one a line, "file:line: text". */
void diag_print(const struct diag *d, FILE *f);
/* All messages as printed by diag_print, in one malloc'ed string. */
char *diag_join(const struct diag *d);

#endif /* CCIDCTL_DIAG_H */

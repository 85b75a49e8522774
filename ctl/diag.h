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
};

struct diag {
	char *file;		/* name used in messages */
	struct diag_msg *msgs;
	size_t n;
	size_t dropped;		/* messages beyond DIAG_MAX_MSGS */
	int oom;		/* a message could not be stored */
};

void diag_init(struct diag *d, const char *file);
void diag_free(struct diag *d);
void diag_add(struct diag *d, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Number of messages reported, kept or not. */
size_t diag_count(const struct diag *d);
/* Print every message, one a line, "file:line: text". */
void diag_print(const struct diag *d, FILE *f);
/* All messages as printed by diag_print, in one malloc'ed string. */
char *diag_join(const struct diag *d);

#endif /* CCIDCTL_DIAG_H */

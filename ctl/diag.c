// SPDX-License-Identifier: GPL-2.0
/*
 * diag.c -- error messages tied to a file and a line
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void diag_init(struct diag *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = strdup(file ? file : "(input)");
	if (!d->file)
		d->oom = 1;
}

void diag_free(struct diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->msgs[i].text);
	free(d->msgs);
	free(d->file);
	memset(d, 0, sizeof(*d));
}

/* Turn runs of white space into one space; trim both ends. */
static void squash_space(char *s)
{
	char *o = s;
	const char *i = s;
	int space = 1;

	for (; *i; i++) {
		if (*i == ' ' || *i == '\t' || *i == '\n' || *i == '\r') {
			if (!space)
				*o++ = ' ';
			space = 1;
		} else {
			*o++ = *i;
			space = 0;
		}
	}
	if (o > s && o[-1] == ' ')
		o--;
	*o = '\0';
}

static void diag_vadd(struct diag *d, int warning, unsigned long line,
		      const char *fmt, va_list ap)
{
	char *text;

	if (d->n >= DIAG_MAX_MSGS) {
		if (warning)
			d->dropped_warn++;
		else
			d->dropped++;
		return;
	}
	if (!d->msgs) {
		d->msgs = calloc(DIAG_MAX_MSGS, sizeof(*d->msgs));
		if (!d->msgs) {
			d->oom = 1;
			d->dropped++;
			return;
		}
	}
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	if (!text) {
		d->oom = 1;
		d->dropped++;
		return;
	}
	/* one message, one line: libxml2's may span several */
	squash_space(text);
	d->msgs[d->n].line = line;
	d->msgs[d->n].text = text;
	d->msgs[d->n].warning = warning;
	d->n++;
	if (warning)
		d->nwarn++;
}

void diag_add(struct diag *d, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, 0, line, fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, 1, line, fmt, ap);
	va_end(ap);
}

size_t diag_count(const struct diag *d)
{
	return d->n - d->nwarn + d->dropped;
}

size_t diag_warnings(const struct diag *d)
{
	return d->nwarn + d->dropped_warn;
}

static void diag_print_one(const struct diag *d, const struct diag_msg *m,
			   FILE *f)
{
	const char *w = m->warning ? "warning: " : "";

	if (m->line)
		fprintf(f, "%s:%lu: %s%s\n", d->file, m->line, w, m->text);
	else
		fprintf(f, "%s: %s%s\n", d->file, w, m->text);
}

void diag_print(const struct diag *d, FILE *f)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		diag_print_one(d, &d->msgs[i], f);
	if (d->dropped)
		fprintf(f, "%s: %zu more error%s not shown\n", d->file,
			d->dropped, d->dropped == 1 ? "" : "s");
	if (d->dropped_warn)
		fprintf(f, "%s: %zu more warning%s not shown\n", d->file,
			d->dropped_warn, d->dropped_warn == 1 ? "" : "s");
	if (d->oom)
		fprintf(f, "%s: out of memory while reporting errors\n",
			d->file);
}

char *diag_join(const struct diag *d)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	diag_print(d, f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

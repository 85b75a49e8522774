// SPDX-License-Identifier: GPL-2.0
/*
 * wire.c -- what the wire protocols share
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Room for the largest message either protocol sends: an APDU + header */
#define WIRE_OUT_CAP	(65544 + 16)

int wire_init(struct wire *w, enum cfg_wire kind, const struct wire_host *host,
	      void *h)
{
	memset(w, 0, sizeof(*w));
	w->proto = kind == CFG_WIRE_VPCD ? &wire_vpcd : &wire_vscard;
	w->host = host;
	w->h = h;
	w->out_cap = WIRE_OUT_CAP;
	w->out = malloc(w->out_cap);
	if (!w->out)
		return -ENOMEM;
	if (w->proto->init(w)) {
		free(w->out);
		w->out = NULL;
		return -ENOMEM;
	}
	return 0;
}

void wire_free(struct wire *w)
{
	if (!w->proto)
		return;
	if (w->out)
		w->proto->free(w);
	free(w->out);
	w->out = NULL;
	w->proto = NULL;
}

void wire_log(struct wire *w, bool debug, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (debug && !w->debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->host->log(w->h, debug, msg);
}

int wire_fail(struct wire *w, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	return err;
}

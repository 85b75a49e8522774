// SPDX-License-Identifier: GPL-2.0
/*
 * framer.c -- a decoder for streams of length-prefixed messages
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framer.h"

int framer_init(struct framer *f, const struct framer_spec *spec,
		size_t max_payload)
{
	memset(f, 0, sizeof(*f));
	if (!spec || !spec->header || !spec->hdr_len ||
	    spec->hdr_len > FRAMER_MAX_HDR)
		return -EINVAL;
	f->spec = spec;
	f->max_payload = max_payload;
	/* one spare byte so that an empty maximum never asks malloc for 0 */
	f->buf = malloc(max_payload + 1);
	return f->buf ? 0 : -ENOMEM;
}

void framer_free(struct framer *f)
{
	free(f->buf);
	f->buf = NULL;
}

void framer_reset(struct framer *f)
{
	f->hdr_have = 0;
	f->have = 0;
	f->length = 0;
	f->msg_ready = false;
	f->err = 0;
	f->errmsg[0] = '\0';
}

bool framer_idle(const struct framer *f)
{
	return !f->err && (f->hdr_have == 0 || f->msg_ready);
}

const char *framer_error(const struct framer *f)
{
	return f->err ? f->errmsg : "no error";
}

int framer_fail(struct framer *f, int err, const char *fmt, ...)
{
	va_list ap;

	f->err = err;
	va_start(ap, fmt);
	vsnprintf(f->errmsg, sizeof(f->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int framer_feed(struct framer *f, const void *in, size_t len, size_t *used)
{
	const uint8_t *p = in;
	size_t hl = f->spec->hdr_len;
	size_t pos = 0, n;
	int err;

	*used = 0;
	if (f->err)
		return f->err;
	if (f->msg_ready) {
		/* the previous message has been handed out: start a new one */
		f->msg_ready = false;
		f->hdr_have = 0;
		f->have = 0;
		f->length = 0;
	}

	if (f->hdr_have < hl) {
		n = hl - f->hdr_have;
		if (n > len)
			n = len;
		memcpy(f->hdr + f->hdr_have, p, n);
		f->hdr_have += n;
		pos = n;
		*used = pos;
		if (f->hdr_have < hl)
			return 0;
		f->length = 0;
		err = f->spec->header(f, &f->length);
		if (err)
			return f->err ? f->err : framer_fail(f, err,
					"malformed %s header", f->spec->name);
		if (f->length > f->max_payload)
			return framer_fail(f, -EMSGSIZE,
					   "%s message length %zu is beyond the limit of %zu bytes",
					   f->spec->name, f->length,
					   f->max_payload);
	}

	n = f->length - f->have;
	if (n > len - pos)
		n = len - pos;
	if (n) {
		memcpy(f->buf + f->have, p + pos, n);
		f->have += n;
		pos += n;
	}
	*used = pos;
	if (f->have < f->length)
		return 0;
	f->msg_ready = true;
	return 1;
}

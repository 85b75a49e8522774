// SPDX-License-Identifier: GPL-2.0
/*
 * vpcd.c -- vpcd/vicc codec
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcd.h"

static bool ctrl_known(uint8_t c)
{
	return c == VPCD_CTRL_OFF || c == VPCD_CTRL_ON ||
	       c == VPCD_CTRL_RESET || c == VPCD_CTRL_ATR;
}

int vpcd_decoder_init(struct vpcd_decoder *dec, enum vpcd_role role,
		      size_t max_payload)
{
	memset(dec, 0, sizeof(*dec));
	dec->role = role;
	if (!max_payload || max_payload > VPCD_MAX_PAYLOAD)
		max_payload = VPCD_MAX_PAYLOAD;
	dec->max_payload = max_payload;
	dec->buf = malloc(max_payload);
	return dec->buf ? 0 : -ENOMEM;
}

void vpcd_decoder_free(struct vpcd_decoder *dec)
{
	free(dec->buf);
	dec->buf = NULL;
}

void vpcd_decoder_reset(struct vpcd_decoder *dec)
{
	dec->hdr_have = 0;
	dec->have = 0;
	dec->length = 0;
	dec->msg_ready = false;
	dec->err = 0;
	dec->errmsg[0] = '\0';
}

bool vpcd_decoder_idle(const struct vpcd_decoder *dec)
{
	return !dec->err && (dec->hdr_have == 0 || dec->msg_ready);
}

const char *vpcd_decoder_error(const struct vpcd_decoder *dec)
{
	return dec->err ? dec->errmsg : "no error";
}

__attribute__((format(printf, 3, 4)))
static int fail(struct vpcd_decoder *dec, int err, const char *fmt, ...)
{
	va_list ap;

	dec->err = err;
	va_start(ap, fmt);
	vsnprintf(dec->errmsg, sizeof(dec->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

static int check_length(struct vpcd_decoder *dec)
{
	size_t len = dec->length;

	if (len > dec->max_payload)
		return fail(dec, -EMSGSIZE,
			    "vpcd message length %zu is beyond the limit of %zu bytes",
			    len, dec->max_payload);
	if (len == 0)
		return fail(dec, -EPROTO, "empty vpcd message");
	if (dec->role == VPCD_ROLE_READER && len < 2)
		return fail(dec, -EPROTO,
			    "vpcd message of %zu byte from the card: an ATR or response has at least 2",
			    len);
	if (dec->role == VPCD_ROLE_CARD && len > 1 && len < 4)
		return fail(dec, -EPROTO,
			    "vpcd message of %zu bytes from the reader: a command APDU has at least 4",
			    len);
	return 0;
}

int vpcd_decode(struct vpcd_decoder *dec, const void *in, size_t len,
		size_t *used, struct vpcd_msg *msg)
{
	const uint8_t *p = in;
	size_t pos = 0, n;
	int err;

	*used = 0;
	if (dec->err)
		return dec->err;
	if (dec->msg_ready) {
		dec->msg_ready = false;
		dec->hdr_have = 0;
		dec->have = 0;
	}

	if (dec->hdr_have < VPCD_HEADER_LEN) {
		n = VPCD_HEADER_LEN - dec->hdr_have;
		if (n > len)
			n = len;
		memcpy(dec->hdr + dec->hdr_have, p, n);
		dec->hdr_have += n;
		pos += n;
		*used = pos;
		if (dec->hdr_have < VPCD_HEADER_LEN)
			return 0;
		dec->length = (size_t)dec->hdr[0] << 8 | dec->hdr[1];
		dec->have = 0;
		err = check_length(dec);
		if (err)
			return err;
	}

	n = dec->length - dec->have;
	if (n > len - pos)
		n = len - pos;
	if (n) {
		memcpy(dec->buf + dec->have, p + pos, n);
		dec->have += n;
		pos += n;
	}
	*used = pos;
	if (dec->have < dec->length)
		return 0;

	if (dec->length == 1) {
		/* only the card's side gets here (see check_length) */
		if (!ctrl_known(dec->buf[0])) {
			dec->msg_ready = true;
			return fail(dec, -EPROTO,
				    "unknown vpcd control code %u",
				    dec->buf[0]);
		}
		msg->kind = VPCD_MSG_CTRL;
		msg->ctrl = dec->buf[0];
	} else {
		msg->kind = VPCD_MSG_DATA;
		msg->ctrl = 0;
	}
	msg->length = dec->length;
	msg->data = dec->buf;
	dec->msg_ready = true;
	return 1;
}

ssize_t vpcd_encode(void *out, size_t cap, const void *payload, size_t len)
{
	uint8_t *o = out;

	/* a 1-byte payload is a control code: vpcd_encode_ctrl() */
	if (len < 2 || !payload)
		return -EINVAL;
	if (len > VPCD_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (cap < VPCD_HEADER_LEN + len)
		return -ENOSPC;
	o[0] = (uint8_t)(len >> 8);
	o[1] = (uint8_t)len;
	memcpy(o + VPCD_HEADER_LEN, payload, len);
	return (ssize_t)(VPCD_HEADER_LEN + len);
}

ssize_t vpcd_encode_ctrl(void *out, size_t cap, uint8_t code)
{
	uint8_t *o = out;

	if (!ctrl_known(code))
		return -EINVAL;
	if (cap < VPCD_HEADER_LEN + 1)
		return -ENOSPC;
	o[0] = 0;
	o[1] = 1;
	o[2] = code;
	return VPCD_HEADER_LEN + 1;
}

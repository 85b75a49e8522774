// SPDX-License-Identifier: GPL-2.0
/*
 * vpcd.c -- vpcd/vicc codec
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcd.h"

static bool ctrl_known(uint8_t c)
{
	return c == VPCD_CTRL_OFF || c == VPCD_CTRL_ON ||
	       c == VPCD_CTRL_RESET || c == VPCD_CTRL_ATR;
}

static int vpcd_header(struct framer *f, size_t *len)
{
	const struct vpcd_decoder *dec = f->user;
	size_t l = (size_t)f->hdr[0] << 8 | f->hdr[1];

	*len = l;
	if (l > f->max_payload)
		return 0;	/* the framer says so, with the limit */
	if (l == 0)
		return framer_fail(f, -EPROTO, "empty vpcd message");
	if (dec->role == VPCD_ROLE_READER && l < 2)
		return framer_fail(f, -EPROTO,
				   "vpcd message of %zu byte from the card: an ATR or response has at least 2",
				   l);
	if (dec->role == VPCD_ROLE_CARD && l > 1 && l < 4)
		return framer_fail(f, -EPROTO,
				   "vpcd message of %zu bytes from the reader: a command APDU has at least 4",
				   l);
	return 0;
}

static const struct framer_spec vpcd_spec = {
	.name = "vpcd",
	.hdr_len = VPCD_HEADER_LEN,
	.header = vpcd_header,
};

int vpcd_decoder_init(struct vpcd_decoder *dec, enum vpcd_role role,
		      size_t max_payload)
{
	int err;

	if (!max_payload || max_payload > VPCD_MAX_PAYLOAD)
		max_payload = VPCD_MAX_PAYLOAD;
	err = framer_init(&dec->f, &vpcd_spec, max_payload);
	dec->role = role;
	dec->f.user = dec;
	return err;
}

void vpcd_decoder_free(struct vpcd_decoder *dec)
{
	framer_free(&dec->f);
}

void vpcd_decoder_reset(struct vpcd_decoder *dec)
{
	framer_reset(&dec->f);
}

bool vpcd_decoder_idle(const struct vpcd_decoder *dec)
{
	return framer_idle(&dec->f);
}

const char *vpcd_decoder_error(const struct vpcd_decoder *dec)
{
	return framer_error(&dec->f);
}

int vpcd_decode(struct vpcd_decoder *dec, const void *in, size_t len,
		size_t *used, struct vpcd_msg *msg)
{
	int r = framer_feed(&dec->f, in, len, used);

	if (r != 1)
		return r;
	if (dec->f.length == 1) {
		/* only the card's side gets here (see vpcd_header) */
		if (!ctrl_known(dec->f.buf[0]))
			return framer_fail(&dec->f, -EPROTO,
					   "unknown vpcd control code %u",
					   dec->f.buf[0]);
		msg->kind = VPCD_MSG_CTRL;
		msg->ctrl = dec->f.buf[0];
	} else {
		msg->kind = VPCD_MSG_DATA;
		msg->ctrl = 0;
	}
	msg->length = dec->f.length;
	msg->data = dec->f.buf;
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

// SPDX-License-Identifier: GPL-2.0
/*
 * vscard.c -- VSCard codec
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vscard.h"

static const uint8_t vsc_magic[4] = { 'V', 'S', 'C', 'D' };

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

const char *vsc_type_name(uint32_t type)
{
	switch (type) {
	case VSC_INIT:
		return "Init";
	case VSC_ERROR:
		return "Error";
	case VSC_READER_ADD:
		return "ReaderAdd";
	case VSC_READER_REMOVE:
		return "ReaderRemove";
	case VSC_ATR:
		return "ATR";
	case VSC_CARD_REMOVE:
		return "CardRemove";
	case VSC_APDU:
		return "APDU";
	case VSC_FLUSH:
		return "Flush";
	case VSC_FLUSH_COMPLETE:
		return "FlushComplete";
	}
	return "unknown";
}

int vsc_decoder_init(struct vsc_decoder *dec, size_t max_payload)
{
	memset(dec, 0, sizeof(*dec));
	dec->max_payload = max_payload ? max_payload : VSC_DEFAULT_MAX_PAYLOAD;
	if (dec->max_payload > UINT32_MAX)
		dec->max_payload = UINT32_MAX;
	dec->buf = malloc(dec->max_payload);
	return dec->buf ? 0 : -ENOMEM;
}

void vsc_decoder_free(struct vsc_decoder *dec)
{
	free(dec->buf);
	dec->buf = NULL;
}

void vsc_decoder_reset(struct vsc_decoder *dec)
{
	dec->hdr_have = 0;
	dec->have = 0;
	dec->msg_ready = false;
	dec->err = 0;
	dec->errmsg[0] = '\0';
}

bool vsc_decoder_idle(const struct vsc_decoder *dec)
{
	return !dec->err && (dec->hdr_have == 0 || dec->msg_ready);
}

const char *vsc_decoder_error(const struct vsc_decoder *dec)
{
	return dec->err ? dec->errmsg : "no error";
}

__attribute__((format(printf, 3, 4)))
static int fail(struct vsc_decoder *dec, int err, const char *fmt, ...)
{
	va_list ap;

	dec->err = err;
	va_start(ap, fmt);
	vsnprintf(dec->errmsg, sizeof(dec->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

/* Rules a header must meet before any of its payload is read. */
static int check_header(struct vsc_decoder *dec)
{
	uint32_t t = dec->type, len = dec->length;

	if (t < VSC_INIT || t > VSC_FLUSH_COMPLETE)
		return fail(dec, -EPROTO,
			    "unknown VSCard message type %u (length %u)",
			    t, len);
	if (len > dec->max_payload)
		return fail(dec, -EMSGSIZE,
			    "VSCard message length %u is beyond the limit of %zu bytes",
			    len, dec->max_payload);
	switch (t) {
	case VSC_INIT:
		if (len < VSC_INIT_MIN_LEN || (len & 3))
			return fail(dec, -EPROTO,
				    "VSCard Init payload of %u bytes: needs 8 or more, a multiple of 4",
				    len);
		break;
	case VSC_ERROR:
		if (len != 4)
			return fail(dec, -EPROTO,
				    "VSCard Error payload of %u bytes: needs 4",
				    len);
		break;
	case VSC_ATR:
		if (len < 2 || len > VSC_MAX_ATR)
			return fail(dec, -EPROTO,
				    "VSCard ATR of %u bytes: an ATR has 2 to 33",
				    len);
		break;
	case VSC_READER_REMOVE:
	case VSC_CARD_REMOVE:
	case VSC_FLUSH:
	case VSC_FLUSH_COMPLETE:
		if (len != 0)
			return fail(dec, -EPROTO,
				    "VSCard %s with a %u-byte payload: it has none",
				    vsc_type_name(t), len);
		break;
	default:
		break;
	}
	return 0;
}

int vsc_decode(struct vsc_decoder *dec, const void *in, size_t len,
	       size_t *used, struct vsc_msg *msg)
{
	const uint8_t *p = in;
	size_t pos = 0, n;
	int err;

	*used = 0;
	if (dec->err)
		return dec->err;
	if (dec->msg_ready) {
		/* the previous message has been handed out: start a new one */
		dec->msg_ready = false;
		dec->hdr_have = 0;
		dec->have = 0;
	}

	if (dec->hdr_have < VSC_HEADER_LEN) {
		n = VSC_HEADER_LEN - dec->hdr_have;
		if (n > len)
			n = len;
		memcpy(dec->hdr + dec->hdr_have, p, n);
		dec->hdr_have += n;
		pos += n;
		*used = pos;
		if (dec->hdr_have < VSC_HEADER_LEN)
			return 0;
		dec->type = get_be32(dec->hdr);
		dec->reader_id = get_be32(dec->hdr + 4);
		dec->length = get_be32(dec->hdr + 8);
		dec->have = 0;
		err = check_header(dec);
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

	msg->type = dec->type;
	msg->reader_id = dec->reader_id;
	msg->length = dec->length;
	msg->data = dec->buf;
	dec->msg_ready = true;
	return 1;
}

int vsc_parse_init(const struct vsc_msg *msg, struct vsc_init *init)
{
	if (msg->type != VSC_INIT || msg->length < VSC_INIT_MIN_LEN ||
	    (msg->length & 3))
		return -EPROTO;
	if (memcmp(msg->data, vsc_magic, sizeof(vsc_magic)) != 0)
		return -EPROTO;
	init->version = get_be32(msg->data + 4);
	init->ncaps = (msg->length - VSC_INIT_MIN_LEN) / 4;
	init->caps0 = init->ncaps ? get_be32(msg->data + 8) : 0;
	return 0;
}

int vsc_parse_error(const struct vsc_msg *msg, uint32_t *code)
{
	if (msg->type != VSC_ERROR || msg->length != 4)
		return -EPROTO;
	*code = get_be32(msg->data);
	return 0;
}

ssize_t vsc_encode(void *out, size_t cap, uint32_t type, uint32_t reader_id,
		   const void *payload, size_t len)
{
	uint8_t *o = out;

	if (type < VSC_INIT || type > VSC_FLUSH_COMPLETE || (len && !payload))
		return -EINVAL;
	if (len > UINT32_MAX || len > (size_t)SSIZE_MAX - VSC_HEADER_LEN)
		return -EMSGSIZE;
	if (cap < VSC_HEADER_LEN || cap - VSC_HEADER_LEN < len)
		return -ENOSPC;
	put_be32(o, type);
	put_be32(o + 4, reader_id);
	put_be32(o + 8, (uint32_t)len);
	if (len)
		memcpy(o + VSC_HEADER_LEN, payload, len);
	return (ssize_t)(VSC_HEADER_LEN + len);
}

ssize_t vsc_encode_init(void *out, size_t cap, uint32_t reader_id,
			uint32_t version, uint32_t caps0)
{
	uint8_t p[12];

	memcpy(p, vsc_magic, sizeof(vsc_magic));
	put_be32(p + 4, version);
	put_be32(p + 8, caps0);
	return vsc_encode(out, cap, VSC_INIT, reader_id, p, sizeof(p));
}

ssize_t vsc_encode_error(void *out, size_t cap, uint32_t reader_id,
			 uint32_t code)
{
	uint8_t p[4];

	put_be32(p, code);
	return vsc_encode(out, cap, VSC_ERROR, reader_id, p, sizeof(p));
}

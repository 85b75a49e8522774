// SPDX-License-Identifier: GPL-2.0
/*
 * vscard.c -- VSCard codec
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vscard.h"

static const uint8_t vsc_magic[4] = { 'V', 'S', 'C', 'D' };

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

bool vsc_type_known(uint32_t type)
{
	return type >= VSC_INIT && type <= VSC_FLUSH_COMPLETE;
}

/* Rules a header must meet before any of its payload is read. */
static int vsc_header(struct framer *f, size_t *len)
{
	uint32_t t = framer_be32(f->hdr), l = framer_be32(f->hdr + 8);

	*len = l;
	if (l > f->max_payload)
		return 0;	/* the framer says so, with the limit */
	if (t == VSC_INIT && (l < VSC_INIT_MIN_LEN || (l & 3)))
		return framer_fail(f, -EPROTO,
				   "VSCard Init payload of %u bytes: needs 8 or more, a multiple of 4",
				   l);
	if (t == VSC_ERROR && l != 4)
		return framer_fail(f, -EPROTO,
				   "VSCard Error payload of %u bytes: needs 4", l);
	return 0;
}

static const struct framer_spec vsc_spec = {
	.name = "VSCard",
	.hdr_len = VSC_HEADER_LEN,
	.header = vsc_header,
};

int vsc_decoder_init(struct vsc_decoder *dec, size_t max_payload)
{
	if (!max_payload)
		max_payload = VSC_DEFAULT_MAX_PAYLOAD;
	if (max_payload > UINT32_MAX)
		max_payload = UINT32_MAX;
	return framer_init(&dec->f, &vsc_spec, max_payload);
}

void vsc_decoder_free(struct vsc_decoder *dec)
{
	framer_free(&dec->f);
}

void vsc_decoder_reset(struct vsc_decoder *dec)
{
	framer_reset(&dec->f);
}

bool vsc_decoder_idle(const struct vsc_decoder *dec)
{
	return framer_idle(&dec->f);
}

const char *vsc_decoder_error(const struct vsc_decoder *dec)
{
	return framer_error(&dec->f);
}

int vsc_decode(struct vsc_decoder *dec, const void *in, size_t len,
	       size_t *used, struct vsc_msg *msg)
{
	int r = framer_feed(&dec->f, in, len, used);

	if (r != 1)
		return r;
	msg->type = framer_be32(dec->f.hdr);
	msg->reader_id = framer_be32(dec->f.hdr + 4);
	msg->length = (uint32_t)dec->f.length;
	msg->data = dec->f.buf;
	return 1;
}

int vsc_parse_init(const struct vsc_msg *msg, struct vsc_init *init)
{
	if (msg->type != VSC_INIT || msg->length < VSC_INIT_MIN_LEN ||
	    (msg->length & 3))
		return -EPROTO;
	if (memcmp(msg->data, vsc_magic, sizeof(vsc_magic)) != 0)
		return -EPROTO;
	init->version = framer_be32(msg->data + 4);
	init->ncaps = (msg->length - VSC_INIT_MIN_LEN) / 4;
	init->caps0 = init->ncaps ? framer_be32(msg->data + 8) : 0;
	return 0;
}

int vsc_parse_error(const struct vsc_msg *msg, uint32_t *code)
{
	if (msg->type != VSC_ERROR || msg->length != 4)
		return -EPROTO;
	*code = framer_be32(msg->data);
	return 0;
}

ssize_t vsc_encode(void *out, size_t cap, uint32_t type, uint32_t reader_id,
		   const void *payload, size_t len)
{
	uint8_t *o = out;

	if (!vsc_type_known(type) || (len && !payload))
		return -EINVAL;
	if (len > UINT32_MAX || len > (size_t)SSIZE_MAX - VSC_HEADER_LEN)
		return -EMSGSIZE;
	if (cap < VSC_HEADER_LEN || cap - VSC_HEADER_LEN < len)
		return -ENOSPC;
	framer_put_be32(o, type);
	framer_put_be32(o + 4, reader_id);
	framer_put_be32(o + 8, (uint32_t)len);
	if (len)
		memcpy(o + VSC_HEADER_LEN, payload, len);
	return (ssize_t)(VSC_HEADER_LEN + len);
}

ssize_t vsc_encode_init(void *out, size_t cap, uint32_t reader_id,
			uint32_t version, uint32_t caps0)
{
	uint8_t p[12];

	memcpy(p, vsc_magic, sizeof(vsc_magic));
	framer_put_be32(p + 4, version);
	framer_put_be32(p + 8, caps0);
	return vsc_encode(out, cap, VSC_INIT, reader_id, p, sizeof(p));
}

ssize_t vsc_encode_error(void *out, size_t cap, uint32_t reader_id,
			 uint32_t code)
{
	uint8_t p[4];

	framer_put_be32(p, code);
	return vsc_encode(out, cap, VSC_ERROR, reader_id, p, sizeof(p));
}

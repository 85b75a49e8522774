/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vscard.h -- the VSCard protocol of QEMU's ccid-card-passthru, as a codec
 *
 * Wire format (libcacard's vscard_common.h): every message is a 12-byte
 * header of three big-endian 32-bit words {type, reader_id, length} and
 * `length` bytes of payload. Payloads:
 *
 *   Init          magic "VSCD" (4 raw bytes), version (BE32, 2 today),
 *                 capabilities (BE32 each, one or more; 0 today)
 *   Error         code (BE32): 0 success, 1 general error,
 *                 2 cannot add more readers, 3 card already inserted
 *   ReaderAdd     reader name, UTF-8, not terminated
 *   ATR           the card's ATR
 *   APDU          a command (to the card) or response (from it)
 *   ReaderRemove, CardRemove, Flush, FlushComplete: empty
 *
 * The card owner (vscclient, a SPICE client) sends Init, ReaderAdd, ATR,
 * APDU responses, CardRemove; the card user (QEMU, here ccidctl) answers
 * Init with Init, ReaderAdd with Error(0), and sends command APDUs.
 *
 * No I/O here: the decoder (a framer, framer.h) takes whatever chunks the
 * stream delivers, the encoder writes one whole message into one buffer,
 * to go out in one send() (see design.md on delayed ACKs).
 *
 * The decoder refuses only what cannot be framed or parsed: a length
 * beyond its limit, an Init or Error payload of a size that type cannot
 * have. Messages of an unknown type, an ATR of a length no card has, an
 * empty message that carries a payload are delivered: what to answer is
 * the protocol's business (wire_vscard.c), as QEMU answers them with an
 * Error instead of dropping the peer.
 */
#ifndef CCIDCTL_VSCARD_H
#define CCIDCTL_VSCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "framer.h"

#define VSC_HEADER_LEN		12
#define VSC_VERSION		2	/* MAKE_VERSION(0, 0, 2) */
#define VSC_READER_ID_UNDEFINED	0xffffffffu
#define VSC_READER_ID_MIN	0
#define VSC_INIT_MIN_LEN	8	/* magic + version */
#define VSC_MAX_ATR		33

/*
 * Default payload limit: the largest command APDU (4 header bytes, 3 Lc,
 * 65535 data, 2 Le), which is also above the largest response (65538).
 */
#define VSC_DEFAULT_MAX_PAYLOAD	65544u

enum vsc_type {
	VSC_INIT = 1,
	VSC_ERROR = 2,
	VSC_READER_ADD = 3,
	VSC_READER_REMOVE = 4,
	VSC_ATR = 5,
	VSC_CARD_REMOVE = 6,
	VSC_APDU = 7,
	VSC_FLUSH = 8,
	VSC_FLUSH_COMPLETE = 9,
};

enum vsc_error_code {
	VSC_SUCCESS = 0,
	VSC_GENERAL_ERROR = 1,
	VSC_CANNOT_ADD_MORE_READERS = 2,
	VSC_CARD_ALREADY_INSERTED = 3,
};

/* A decoded message; data points into the decoder, valid until next feed. */
struct vsc_msg {
	uint32_t type;
	uint32_t reader_id;
	uint32_t length;
	const uint8_t *data;
};

struct vsc_init {
	uint32_t version;
	uint32_t ncaps;		/* capability words present */
	uint32_t caps0;		/* the first one, 0 if none */
};

struct vsc_decoder {
	struct framer f;
};

/* @max_payload: 0 for VSC_DEFAULT_MAX_PAYLOAD. Returns 0 or -ENOMEM. */
int vsc_decoder_init(struct vsc_decoder *dec, size_t max_payload);
void vsc_decoder_free(struct vsc_decoder *dec);
/* Forget any partial message and a previous error (a new connection). */
void vsc_decoder_reset(struct vsc_decoder *dec);

/*
 * Feed @len bytes. Sets *@used to the bytes consumed and returns
 *   1  a complete message is in *@msg; feed the rest (in + *used) again,
 *   0  all input consumed, the message is not complete yet,
 *   <0 the stream is malformed (-EMSGSIZE: length beyond the limit,
 *      -EPROTO: an Init or Error payload of an impossible size);
 *      nothing after the offending header is consumed, and every later
 *      call fails the same way until vsc_decoder_reset().
 */
int vsc_decode(struct vsc_decoder *dec, const void *in, size_t len,
	       size_t *used, struct vsc_msg *msg);
/* What was wrong, after a negative return. */
const char *vsc_decoder_error(const struct vsc_decoder *dec);
/* True between messages (no partial message buffered). */
bool vsc_decoder_idle(const struct vsc_decoder *dec);

/* A type this codec knows (Init .. FlushComplete). */
bool vsc_type_known(uint32_t type);

/* Payload helpers for decoded messages; 0 or -EPROTO. */
int vsc_parse_init(const struct vsc_msg *msg, struct vsc_init *init);
int vsc_parse_error(const struct vsc_msg *msg, uint32_t *code);

/*
 * Encoders: write the whole message into @out. Return its length, or
 * -ENOSPC if @cap is too small, -EMSGSIZE if the payload does not fit a
 * 32-bit length, -EINVAL for a bad argument.
 */
static inline size_t vsc_msg_size(size_t payload)
{
	return VSC_HEADER_LEN + payload;
}

ssize_t vsc_encode(void *out, size_t cap, uint32_t type, uint32_t reader_id,
		   const void *payload, size_t len);
ssize_t vsc_encode_init(void *out, size_t cap, uint32_t reader_id,
			uint32_t version, uint32_t caps0);
ssize_t vsc_encode_error(void *out, size_t cap, uint32_t reader_id,
			 uint32_t code);

const char *vsc_type_name(uint32_t type);

#endif /* CCIDCTL_VSCARD_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpcd.h -- vsmartcard's vpcd/vicc protocol, as a codec
 *
 * Every message is a 2-byte big-endian length and that many bytes of
 * payload. From the reader (vpcd, here ccidctl) to the card (vicc), a
 * 1-byte payload is a control code: 0 power off, 1 power on, 2 reset,
 * 4 get ATR; any longer payload is a command APDU. From the card, the
 * answer to "get ATR" is the ATR and the answer to an APDU is the response
 * APDU; the other control codes get no answer.
 *
 * The 16-bit length caps a message at 65535 bytes, less than the largest
 * extended command APDU (65544): such APDUs cannot travel over vpcd.
 *
 * No I/O here: the decoder (a framer, framer.h) takes whatever chunks the stream delivers, the
 * encoder writes one whole message into one buffer, to go out in one
 * send() (vpcd itself writes length and payload separately, which costs
 * a delayed ACK per APDU on the other end).
 */
#ifndef CCIDCTL_VPCD_H
#define CCIDCTL_VPCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "framer.h"

#define VPCD_HEADER_LEN		2
#define VPCD_MAX_PAYLOAD	65535u
#define VPCD_DEFAULT_PORT	35963

enum vpcd_ctrl {
	VPCD_CTRL_OFF = 0,
	VPCD_CTRL_ON = 1,
	VPCD_CTRL_RESET = 2,
	VPCD_CTRL_ATR = 4,
};

/* Which end of the connection decodes: this sets what is well-formed. */
enum vpcd_role {
	/* we are the reader (vpcd): messages are ATRs and response APDUs */
	VPCD_ROLE_READER,
	/* we are the card (vicc): control codes and command APDUs */
	VPCD_ROLE_CARD,
};

enum vpcd_kind {
	VPCD_MSG_CTRL,		/* 1-byte control code (from the reader) */
	VPCD_MSG_DATA,		/* APDU or ATR */
};

struct vpcd_msg {
	enum vpcd_kind kind;
	uint8_t ctrl;		/* VPCD_MSG_CTRL */
	size_t length;
	const uint8_t *data;	/* in the decoder, valid until next feed */
};

struct vpcd_decoder {
	enum vpcd_role role;
	struct framer f;
};

/* @max_payload: 0 or above VPCD_MAX_PAYLOAD means VPCD_MAX_PAYLOAD. */
int vpcd_decoder_init(struct vpcd_decoder *dec, enum vpcd_role role,
		      size_t max_payload);
void vpcd_decoder_free(struct vpcd_decoder *dec);
void vpcd_decoder_reset(struct vpcd_decoder *dec);

/*
 * Feed @len bytes; *@used gets the bytes consumed. Returns 1 with a
 * message in *@msg (feed the rest again), 0 when more input is needed,
 * or a negative errno for a malformed stream (-EMSGSIZE: length beyond
 * the limit; -EPROTO: empty message, unknown control code, or a payload
 * too short for what it must be). Errors are sticky until reset; nothing
 * after the offending header is consumed.
 */
int vpcd_decode(struct vpcd_decoder *dec, const void *in, size_t len,
		size_t *used, struct vpcd_msg *msg);
const char *vpcd_decoder_error(const struct vpcd_decoder *dec);
bool vpcd_decoder_idle(const struct vpcd_decoder *dec);

/*
 * Encoders: one whole message into @out. Return its length, -ENOSPC if
 * @cap is too small, -EMSGSIZE if the payload exceeds 65535 bytes,
 * -EINVAL for an empty payload or unknown control code.
 */
ssize_t vpcd_encode(void *out, size_t cap, const void *payload, size_t len);
ssize_t vpcd_encode_ctrl(void *out, size_t cap, uint8_t code);

#endif /* CCIDCTL_VPCD_H */

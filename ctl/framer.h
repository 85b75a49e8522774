/* SPDX-License-Identifier: GPL-2.0 */
/*
 * framer.h -- a decoder for streams of length-prefixed messages
 *
 * Both wire protocols a passthrough card speaks cut the byte stream the
 * same way: a fixed-size header that announces the length of the payload
 * that follows. A framer collects a header, asks the protocol what length
 * it announces (and whether the header is acceptable at all), then
 * collects that many payload bytes into a buffer of a fixed maximum size,
 * and hands out the whole message. Input arrives in chunks of any size,
 * down to single bytes.
 *
 * Errors are sticky: after a negative return every call fails the same way
 * until framer_reset(). Nothing after an offending header is consumed.
 *
 * No I/O, no allocation after framer_init(), no library beyond libc: the
 * codecs built on it are fuzzed.
 */
#ifndef CCIDCTL_FRAMER_H
#define CCIDCTL_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAMER_MAX_HDR	16

struct framer;

struct framer_spec {
	const char *name;	/* for messages: "VSCard", "vpcd" */
	size_t hdr_len;		/* 1..FRAMER_MAX_HDR */
	/*
	 * The payload length the complete header in f->hdr announces, in
	 * *len; 0, or a negative errno after framer_fail() to refuse the
	 * header. The framer itself refuses lengths beyond its limit.
	 */
	int (*header)(struct framer *f, size_t *len);
};

struct framer {
	const struct framer_spec *spec;
	uint8_t hdr[FRAMER_MAX_HDR];
	size_t hdr_have;
	uint8_t *buf;		/* max_payload bytes */
	size_t max_payload;
	size_t length;		/* announced payload length */
	size_t have;		/* payload bytes received */
	bool msg_ready;		/* the last feed returned a message */
	int err;		/* sticky: 0 or a negative errno */
	char errmsg[112];
	void *user;		/* the codec's, for its header() */
};

/* Returns 0 or -ENOMEM (or -EINVAL for a bad spec). */
int framer_init(struct framer *f, const struct framer_spec *spec,
		size_t max_payload);
void framer_free(struct framer *f);
/* Forget a partial message and a previous error (a new connection). */
void framer_reset(struct framer *f);
/* True between messages: nothing partial buffered, no error. */
bool framer_idle(const struct framer *f);
/* What was wrong, after a negative return. */
const char *framer_error(const struct framer *f);
/* Record a sticky error with its explanation; returns @err. */
int framer_fail(struct framer *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Feed @len bytes; *@used gets the number consumed. Returns
 *   1  a complete message: header in f->hdr, payload in f->buf[0..f->length);
 *      valid until the next call; feed the rest (in + *used) again,
 *   0  everything consumed, the message is not complete yet,
 *   <0 the stream is malformed (-EMSGSIZE: a length beyond the limit, or
 *      what the spec's header() returned).
 */
int framer_feed(struct framer *f, const void *in, size_t len, size_t *used);

/* Big-endian helpers shared by the codecs. */
static inline uint32_t framer_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void framer_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif /* CCIDCTL_FRAMER_H */

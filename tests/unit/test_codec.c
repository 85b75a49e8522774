// SPDX-License-Identifier: GPL-2.0
/*
 * test_codec.c -- the VSCard and vpcd codecs: round trips, streams cut
 * into 1-byte chunks, and malformed streams.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "vpcd.h"
#include "vscard.h"

/* Decode everything in @in, feeding at most @chunk bytes at a time. */
struct vsc_seen {
	unsigned int n;
	uint32_t type[64], reader[64], len[64];
	uint8_t first[64], last[64];
	int err;
	size_t consumed;
};

static void vsc_run(struct vsc_decoder *dec, const uint8_t *in, size_t len,
		    size_t chunk, struct vsc_seen *s)
{
	size_t pos = 0;

	memset(s, 0, sizeof(*s));
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		size_t off = 0;

		while (off < n) {
			struct vsc_msg m;
			size_t used;
			int r = vsc_decode(dec, in + pos + off, n - off, &used,
					   &m);

			off += used;
			if (r < 0) {
				s->err = r;
				s->consumed = pos + off;
				return;
			}
			if (r == 1 && s->n < 64) {
				s->type[s->n] = m.type;
				s->reader[s->n] = m.reader_id;
				s->len[s->n] = m.length;
				s->first[s->n] = m.length ? m.data[0] : 0;
				s->last[s->n] = m.length ? m.data[m.length - 1] : 0;
				s->n++;
			}
			if (r == 0)
				break;
		}
		pos += n;
	}
	s->consumed = pos;
}

static size_t put(uint8_t *buf, size_t at, size_t cap, ssize_t r)
{
	(void)cap;
	if (r < 0) {
		fprintf(stderr, "encode failed: %zd\n", r);
		exit(2);
	}
	(void)buf;
	return at + (size_t)r;
}

static void test_vsc_roundtrip(void)
{
	static uint8_t stream[200000];
	static uint8_t apdu[VSC_DEFAULT_MAX_PAYLOAD];
	static const uint8_t atr[] = { 0x3b, 0x7a, 0x18, 0x00, 0x00, 0x73,
				       0x66, 0x74, 0x65, 0x20, 0x63, 0x64,
				       0x31, 0x34, 0x34 };
	static const size_t chunks[] = { 1, 2, 3, 7, 12, 13, 4096, 200000 };
	struct vsc_decoder dec;
	struct vsc_seen s;
	size_t len = 0, i;
	int all;

	for (i = 0; i < sizeof(apdu); i++)
		apdu[i] = (uint8_t)(i * 7 + 1);

	len = put(stream, len, sizeof(stream),
		  vsc_encode_init(stream + len, sizeof(stream) - len,
				  VSC_READER_ID_UNDEFINED, VSC_VERSION, 0));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len,
			     VSC_READER_ADD, 0, "Virtual Reader", 14));
	len = put(stream, len, sizeof(stream),
		  vsc_encode_error(stream + len, sizeof(stream) - len, 0,
				   VSC_SUCCESS));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len, VSC_ATR, 0,
			     atr, sizeof(atr)));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len, VSC_APDU, 0,
			     "\x00\xa4\x04\x00\x07\xa0\x00\x00\x00\x79\x01\x00",
			     12));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len, VSC_APDU, 0,
			     apdu, sizeof(apdu)));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len,
			     VSC_CARD_REMOVE, 0, NULL, 0));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len,
			     VSC_READER_REMOVE, 0, NULL, 0));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len, VSC_FLUSH,
			     5, NULL, 0));
	len = put(stream, len, sizeof(stream),
		  vsc_encode(stream + len, sizeof(stream) - len,
			     VSC_FLUSH_COMPLETE, 5, NULL, 0));

	is_u(len, 12 * 10 + 12 + 14 + 4 + sizeof(atr) + 12 + sizeof(apdu),
	     "VSCard: 10 messages encoded back to back");
	ok(memcmp(stream, "\0\0\0\x01\xff\xff\xff\xff\0\0\0\x0cVSCD\0\0\0\x02\0\0\0\0",
		  24) == 0,
	   "VSCard Init: big-endian header, raw magic \"VSCD\", version 2, caps 0");

	ok(vsc_decoder_init(&dec, 0) == 0, "VSCard decoder set up");
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		vsc_decoder_reset(&dec);
		vsc_run(&dec, stream, len, chunks[i], &s);
		all = s.err == 0 && s.n == 10 && s.consumed == len &&
		      s.type[0] == VSC_INIT && s.reader[0] == VSC_READER_ID_UNDEFINED &&
		      s.type[1] == VSC_READER_ADD && s.len[1] == 14 &&
		      s.first[1] == 'V' && s.type[2] == VSC_ERROR &&
		      s.type[3] == VSC_ATR && s.len[3] == sizeof(atr) &&
		      s.last[3] == 0x34 && s.type[4] == VSC_APDU &&
		      s.len[4] == 12 && s.type[5] == VSC_APDU &&
		      s.len[5] == sizeof(apdu) && s.first[5] == apdu[0] &&
		      s.last[5] == apdu[sizeof(apdu) - 1] &&
		      s.type[6] == VSC_CARD_REMOVE && s.len[6] == 0 &&
		      s.type[7] == VSC_READER_REMOVE &&
		      s.type[8] == VSC_FLUSH && s.reader[8] == 5 &&
		      s.type[9] == VSC_FLUSH_COMPLETE &&
		      vsc_decoder_idle(&dec);
		ok(all, "VSCard: 10 messages decoded in chunks of %zu byte%s",
		   chunks[i], chunks[i] == 1 ? "" : "s");
		if (!all)
			diag("err %d (%s), %u messages, %zu of %zu bytes",
			     s.err, vsc_decoder_error(&dec), s.n, s.consumed,
			     len);
	}

	/* payload helpers */
	{
		struct vsc_msg m;
		struct vsc_init init;
		uint32_t code = 99;
		size_t used;

		vsc_decoder_reset(&dec);
		ok(vsc_decode(&dec, stream, len, &used, &m) == 1 &&
		   used == 24 && vsc_parse_init(&m, &init) == 0 &&
		   init.version == VSC_VERSION && init.ncaps == 1 &&
		   init.caps0 == 0,
		   "VSCard Init parsed: version 2, one capability word");
		ok(vsc_decode(&dec, stream + 24, len - 24, &used, &m) == 1 &&
		   used == 26 && vsc_parse_init(&m, &init) == -EPROTO,
		   "vsc_parse_init refuses a ReaderAdd");
		ok(vsc_decode(&dec, stream + 50, len - 50, &used, &m) == 1 &&
		   vsc_parse_error(&m, &code) == 0 && code == VSC_SUCCESS,
		   "VSCard Error parsed: code 0");
	}
	{
		uint8_t bad[20];
		struct vsc_msg m;
		struct vsc_init init;
		size_t used;

		vsc_encode(bad, sizeof(bad), VSC_INIT, 0, "VSCX\0\0\0\x02", 8);
		vsc_decoder_reset(&dec);
		ok(vsc_decode(&dec, bad, 20, &used, &m) == 1 &&
		   vsc_parse_init(&m, &init) == -EPROTO,
		   "VSCard Init with a wrong magic: vsc_parse_init refuses it");
	}
	vsc_decoder_free(&dec);
}

static void test_vsc_encode_errors(void)
{
	uint8_t buf[64];

	is_i(vsc_encode(buf, 11, VSC_FLUSH, 0, NULL, 0), -ENOSPC,
	     "vsc_encode: 11-byte buffer for a 12-byte message -> ENOSPC");
	is_i(vsc_encode(buf, 15, VSC_APDU, 0, "abcd", 4), -ENOSPC,
	     "vsc_encode: payload does not fit -> ENOSPC");
	is_i(vsc_encode(buf, sizeof(buf), 0, 0, NULL, 0), -EINVAL,
	     "vsc_encode: type 0 -> EINVAL");
	is_i(vsc_encode(buf, sizeof(buf), 10, 0, NULL, 0), -EINVAL,
	     "vsc_encode: type 10 -> EINVAL");
	is_i(vsc_encode(buf, sizeof(buf), VSC_APDU, 0, NULL, 3), -EINVAL,
	     "vsc_encode: NULL payload with a length -> EINVAL");
	is_i(vsc_encode(buf, 16, VSC_APDU, 0x01020304, "\x90\x00", 2), 14,
	     "vsc_encode: exact fit");
	ok(memcmp(buf, "\0\0\0\x07\x01\x02\x03\x04\0\0\0\x02\x90\x00", 14) == 0,
	   "vsc_encode: header and payload bytes");
}

/* Feed @in in one go and in 1-byte chunks; expect error @err. */
static void vsc_malformed(const uint8_t *in, size_t len, size_t max,
			  int err, size_t stop, const char *what)
{
	struct vsc_decoder dec;
	struct vsc_seen s;
	struct vsc_msg m;
	size_t used;

	vsc_decoder_init(&dec, max);
	vsc_run(&dec, in, len, len, &s);
	ok(s.err == err && s.consumed == stop,
	   "VSCard malformed, one chunk: %s -> %s after %zu bytes", what,
	   err == -EMSGSIZE ? "EMSGSIZE" : "EPROTO", stop);
	if (s.err != err || s.consumed != stop)
		diag("got %d after %zu bytes", s.err, s.consumed);
	vsc_decoder_reset(&dec);
	vsc_run(&dec, in, len, 1, &s);
	ok(s.err == err && s.consumed == stop,
	   "VSCard malformed, 1-byte chunks: %s (%s)", what,
	   vsc_decoder_error(&dec));
	ok(vsc_decode(&dec, in, len, &used, &m) == err && used == 0,
	   "VSCard: the error is sticky: %s", what);
	vsc_decoder_free(&dec);
}

static void test_vsc_malformed(void)
{
	uint8_t in[64];
	struct vsc_decoder dec;
	struct vsc_seen s;
	struct vsc_msg m;
	size_t used;

	/* an APDU one byte above a 100-byte limit */
	memcpy(in, "\0\0\0\x07\0\0\0\0\0\0\0\x65", 12);
	memset(in + 12, 0xaa, 52);
	vsc_malformed(in, 64, 100, -EMSGSIZE, 12, "length 101 over a 100-byte limit");

	/* 4 GiB - 1 */
	memcpy(in, "\0\0\0\x07\0\0\0\0\xff\xff\xff\xff", 12);
	vsc_malformed(in, 64, 0, -EMSGSIZE, 12, "length 0xffffffff");

	memcpy(in, "\0\0\0\x02\0\0\0\0\0\0\0\x03", 12);
	vsc_malformed(in, 64, 0, -EPROTO, 12, "a 3-byte Error");
	memcpy(in, "\0\0\0\x01\0\0\0\0\0\0\0\x06", 12);
	vsc_malformed(in, 64, 0, -EPROTO, 12, "a 6-byte Init");

	/*
	 * Unknown types, impossible ATR lengths and payloads on empty
	 * messages are framed and delivered: the protocol layer answers
	 * them (QEMU replies with an Error instead of dropping the peer).
	 */
	{
		static const struct {
			const char *hdr;
			uint32_t type, len;
			const char *what;
		} odd[] = {
			{ "\xde\xad\xbe\xef\0\0\0\0\0\0\0\x04", 0xdeadbeef, 4, "type 0xdeadbeef" },
			{ "\0\0\0\0\0\0\0\0\0\0\0\0", 0, 0, "type 0" },
			{ "\0\0\0\x0a\0\0\0\0\0\0\0\0", 10, 0, "type 10" },
			{ "\0\0\0\x06\0\0\0\0\0\0\0\x05", VSC_CARD_REMOVE, 5, "CardRemove with a payload" },
			{ "\0\0\0\x05\0\0\0\0\0\0\0\x22", VSC_ATR, 34, "a 34-byte ATR" },
		};

		vsc_decoder_init(&dec, 0);
		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			memcpy(in, odd[i].hdr, 12);
			memset(in + 12, 0x3b, 52);
			vsc_decoder_reset(&dec);
			vsc_run(&dec, in, 12 + odd[i].len, 1, &s);
			ok(s.err == 0 && s.n == 1 && s.type[0] == odd[i].type &&
			   s.len[0] == odd[i].len && vsc_decoder_idle(&dec),
			   "VSCard: %s is framed and delivered (%s)", odd[i].what,
			   vsc_type_known(odd[i].type) ? "known type" : "unknown type");
		}
		vsc_decoder_free(&dec);
	}

	/* a good message, then garbage: the first one is still delivered */
	vsc_decoder_init(&dec, 0);
	vsc_encode(in, sizeof(in), VSC_APDU, 0, "\x90\x00", 2);
	memcpy(in + 14, "\0\0\0\x02\0\0\0\0\0\0\0\x08", 12);
	vsc_run(&dec, in, 26, 1, &s);
	ok(s.n == 1 && s.type[0] == VSC_APDU && s.err == -EPROTO &&
	   s.consumed == 26,
	   "VSCard: a message before the garbage is delivered, then EPROTO");

	/* truncated: no error, no message, decoder waits */
	vsc_decoder_reset(&dec);
	vsc_encode(in, sizeof(in), VSC_APDU, 0, "\x00\x84\x00\x00\x08", 5);
	vsc_run(&dec, in, 16, 1, &s);
	ok(s.err == 0 && s.n == 0 && !vsc_decoder_idle(&dec),
	   "VSCard: a truncated message is no message yet, and no error");
	ok(vsc_decode(&dec, in + 16, 1, &used, &m) == 1 && used == 1 &&
	   m.length == 5 && m.data[4] == 0x08,
	   "VSCard: its last byte completes it");
	vsc_decoder_reset(&dec);
	vsc_run(&dec, in, 7, 1, &s);
	ok(s.err == 0 && s.n == 0 && !vsc_decoder_idle(&dec),
	   "VSCard: a truncated header waits too");
	vsc_decoder_reset(&dec);
	ok(vsc_decoder_idle(&dec), "VSCard: reset forgets the partial message");
	vsc_decoder_free(&dec);
}

/* ------------------------------------------------------------------ */
/* vpcd */

struct vpcd_seen {
	unsigned int n;
	enum vpcd_kind kind[64];
	uint8_t ctrl[64];
	size_t len[64];
	uint8_t first[64], last[64];
	int err;
	size_t consumed;
};

static void vpcd_run(struct vpcd_decoder *dec, const uint8_t *in, size_t len,
		     size_t chunk, struct vpcd_seen *s)
{
	size_t pos = 0;

	memset(s, 0, sizeof(*s));
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		size_t off = 0;

		while (off < n) {
			struct vpcd_msg m;
			size_t used;
			int r = vpcd_decode(dec, in + pos + off, n - off,
					    &used, &m);

			off += used;
			if (r < 0) {
				s->err = r;
				s->consumed = pos + off;
				return;
			}
			if (r == 1 && s->n < 64) {
				s->kind[s->n] = m.kind;
				s->ctrl[s->n] = m.ctrl;
				s->len[s->n] = m.length;
				s->first[s->n] = m.data[0];
				s->last[s->n] = m.data[m.length - 1];
				s->n++;
			}
			if (r == 0)
				break;
		}
		pos += n;
	}
	s->consumed = pos;
}

static void test_vpcd_roundtrip(void)
{
	static uint8_t stream[140000];
	static uint8_t big[VPCD_MAX_PAYLOAD];
	static const size_t chunks[] = { 1, 2, 3, 5, 65537, 140000 };
	struct vpcd_decoder dec;
	struct vpcd_seen s;
	size_t len = 0, i;
	int all;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ (i >> 8));

	/* what the reader sends the card */
	len = put(stream, len, sizeof(stream),
		  vpcd_encode_ctrl(stream + len, sizeof(stream) - len,
				   VPCD_CTRL_ON));
	len = put(stream, len, sizeof(stream),
		  vpcd_encode_ctrl(stream + len, sizeof(stream) - len,
				   VPCD_CTRL_ATR));
	len = put(stream, len, sizeof(stream),
		  vpcd_encode(stream + len, sizeof(stream) - len,
			      "\x00\xa4\x04\x00\x00", 5));
	len = put(stream, len, sizeof(stream),
		  vpcd_encode(stream + len, sizeof(stream) - len, big,
			      sizeof(big)));
	len = put(stream, len, sizeof(stream),
		  vpcd_encode_ctrl(stream + len, sizeof(stream) - len,
				   VPCD_CTRL_RESET));
	len = put(stream, len, sizeof(stream),
		  vpcd_encode_ctrl(stream + len, sizeof(stream) - len,
				   VPCD_CTRL_OFF));
	is_u(len, 3 + 3 + 7 + 2 + sizeof(big) + 3 + 3,
	     "vpcd: six reader-to-card messages encoded");
	ok(memcmp(stream, "\0\x01\x01\0\x01\x04\0\x05\x00\xa4", 10) == 0,
	   "vpcd: 2-byte big-endian lengths, control codes 1 and 4");

	vpcd_decoder_init(&dec, VPCD_ROLE_CARD, 0);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		vpcd_decoder_reset(&dec);
		vpcd_run(&dec, stream, len, chunks[i], &s);
		all = s.err == 0 && s.n == 6 && s.consumed == len &&
		      s.kind[0] == VPCD_MSG_CTRL && s.ctrl[0] == VPCD_CTRL_ON &&
		      s.kind[1] == VPCD_MSG_CTRL && s.ctrl[1] == VPCD_CTRL_ATR &&
		      s.kind[2] == VPCD_MSG_DATA && s.len[2] == 5 &&
		      s.first[2] == 0x00 && s.last[2] == 0x00 &&
		      s.kind[3] == VPCD_MSG_DATA && s.len[3] == sizeof(big) &&
		      s.first[3] == big[0] && s.last[3] == big[sizeof(big) - 1] &&
		      s.ctrl[4] == VPCD_CTRL_RESET &&
		      s.kind[5] == VPCD_MSG_CTRL && s.ctrl[5] == VPCD_CTRL_OFF &&
		      vpcd_decoder_idle(&dec);
		ok(all, "vpcd card side: 6 messages decoded in chunks of %zu",
		   chunks[i]);
		if (!all)
			diag("err %d (%s), %u messages", s.err,
			     vpcd_decoder_error(&dec), s.n);
	}
	vpcd_decoder_free(&dec);

	/* what the card answers: an ATR and a response */
	len = 0;
	len = put(stream, len, sizeof(stream),
		  vpcd_encode(stream + len, sizeof(stream) - len,
			      "\x3b\x7a\x18\x00\x00\x73\x66\x74\x65\x20\x63\x64\x31\x34\x34",
			      15));
	len = put(stream, len, sizeof(stream),
		  vpcd_encode(stream + len, sizeof(stream) - len, "\x90\x00",
			      2));
	vpcd_decoder_init(&dec, VPCD_ROLE_READER, 0);
	vpcd_run(&dec, stream, len, 1, &s);
	ok(s.err == 0 && s.n == 2 && s.len[0] == 15 && s.first[0] == 0x3b &&
	   s.len[1] == 2 && s.first[1] == 0x90 && s.kind[1] == VPCD_MSG_DATA,
	   "vpcd reader side: ATR and response decoded byte by byte");
	vpcd_decoder_free(&dec);
}

static void test_vpcd_errors(void)
{
	static uint8_t big[VPCD_MAX_PAYLOAD + 1];
	struct vpcd_decoder dec;
	struct vpcd_seen s;
	struct vpcd_msg m;
	uint8_t buf[16];
	size_t used;

	is_i(vpcd_encode(buf, sizeof(buf), big, sizeof(big)), -EMSGSIZE,
	     "vpcd_encode: 65536 bytes -> EMSGSIZE (an extended APDU that vpcd cannot carry)");
	is_i(vpcd_encode(buf, 5, "abcd", 4), -ENOSPC,
	     "vpcd_encode: buffer too small -> ENOSPC");
	is_i(vpcd_encode(buf, sizeof(buf), "a", 1), -EINVAL,
	     "vpcd_encode: a 1-byte payload would read as a control code -> EINVAL");
	is_i(vpcd_encode(buf, sizeof(buf), "", 0), -EINVAL,
	     "vpcd_encode: empty -> EINVAL");
	is_i(vpcd_encode_ctrl(buf, sizeof(buf), 3), -EINVAL,
	     "vpcd_encode_ctrl: code 3 -> EINVAL");
	is_i(vpcd_encode_ctrl(buf, 2, VPCD_CTRL_ON), -ENOSPC,
	     "vpcd_encode_ctrl: buffer too small -> ENOSPC");

	/* a length above a 300-byte limit: refused after the 2-byte header */
	vpcd_decoder_init(&dec, VPCD_ROLE_READER, 300);
	memcpy(buf, "\x01\x2d\x90\x00", 4);
	vpcd_run(&dec, buf, 4, 1, &s);
	ok(s.err == -EMSGSIZE && s.consumed == 2,
	   "vpcd: length 301 over a 300-byte limit -> EMSGSIZE after the header (%s)",
	   vpcd_decoder_error(&dec));
	ok(vpcd_decode(&dec, buf, 4, &used, &m) == -EMSGSIZE && used == 0,
	   "vpcd: the error is sticky");
	vpcd_decoder_free(&dec);

	vpcd_decoder_init(&dec, VPCD_ROLE_READER, 0);
	vpcd_run(&dec, (const uint8_t *)"\xff\xff", 2, 1, &s);
	ok(s.err == 0 && !vpcd_decoder_idle(&dec),
	   "vpcd: length 65535 is within the protocol: waits for the payload");
	vpcd_decoder_reset(&dec);
	vpcd_run(&dec, (const uint8_t *)"\0\0\x90\x00", 4, 1, &s);
	ok(s.err == -EPROTO && s.consumed == 2,
	   "vpcd: an empty message -> EPROTO");
	vpcd_decoder_reset(&dec);
	vpcd_run(&dec, (const uint8_t *)"\0\x01\x04", 3, 1, &s);
	ok(s.err == -EPROTO && s.consumed == 2,
	   "vpcd reader side: a 1-byte message from the card -> EPROTO");
	vpcd_decoder_reset(&dec);
	vpcd_run(&dec, (const uint8_t *)"\0\x05\x90\x00", 4, 1, &s);
	ok(s.err == 0 && s.n == 0 && !vpcd_decoder_idle(&dec),
	   "vpcd: a truncated message waits, no error");
	vpcd_decoder_free(&dec);

	vpcd_decoder_init(&dec, VPCD_ROLE_CARD, 0);
	vpcd_run(&dec, (const uint8_t *)"\0\x01\x03", 3, 1, &s);
	ok(s.err == -EPROTO && s.n == 0,
	   "vpcd card side: unknown control code 3 -> EPROTO (%s)",
	   vpcd_decoder_error(&dec));
	vpcd_decoder_reset(&dec);
	vpcd_run(&dec, (const uint8_t *)"\0\x02\x00\xa4", 4, 1, &s);
	ok(s.err == -EPROTO && s.consumed == 2,
	   "vpcd card side: a 2-byte command APDU -> EPROTO");
	vpcd_decoder_reset(&dec);
	ok(vpcd_decoder_idle(&dec), "vpcd: reset clears the error");
	vpcd_decoder_free(&dec);
}

/* Random messages, random cuts: what comes out is what went in. */
static void test_random_streams(void)
{
	static uint8_t stream[1 << 20];
	static uint32_t lens[400];
	struct vsc_decoder vd;
	struct vpcd_decoder pd;
	unsigned int seed = 12345, round, bad = 0;

	vsc_decoder_init(&vd, 4096);
	vpcd_decoder_init(&pd, VPCD_ROLE_READER, 4096);
	for (round = 0; round < 50; round++) {
		size_t len = 0, pos = 0, i, nmsg = 0, got = 0, plen = 0;
		size_t pgot = 0;

		for (i = 0; i < 200; i++) {
			uint8_t payload[4096];
			uint32_t l = (uint32_t)(rand_r(&seed) % 4095) + 2;
			uint32_t k;

			for (k = 0; k < l; k++)
				payload[k] = (uint8_t)(k + i);
			lens[nmsg++] = l;
			len += (size_t)vsc_encode(stream + len,
						  sizeof(stream) - len,
						  VSC_APDU, (uint32_t)i,
						  payload, l);
		}
		vsc_decoder_reset(&vd);
		while (pos < len) {
			size_t n = (size_t)(rand_r(&seed) % 9000) + 1;
			size_t off = 0;

			if (n > len - pos)
				n = len - pos;
			while (off < n) {
				struct vsc_msg m;
				size_t used;
				int r = vsc_decode(&vd, stream + pos + off,
						   n - off, &used, &m);

				off += used;
				if (r < 0) {
					bad++;
					off = n;
					pos = len;
					break;
				}
				if (r == 1) {
					if (m.length != lens[got] ||
					    m.reader_id != got ||
					    m.data[m.length - 1] !=
					    (uint8_t)(m.length - 1 + got))
						bad++;
					got++;
				}
				if (r == 0)
					break;
			}
			pos += n;
		}
		if (got != nmsg)
			bad++;

		/* the same payloads over vpcd */
		for (i = 0; i < nmsg; i++) {
			uint8_t payload[4096];

			memset(payload, (int)i, lens[i]);
			plen += (size_t)vpcd_encode(stream + plen,
						    sizeof(stream) - plen,
						    payload, lens[i]);
		}
		vpcd_decoder_reset(&pd);
		pos = 0;
		while (pos < plen) {
			size_t n = (size_t)(rand_r(&seed) % 5000) + 1;
			size_t off = 0;

			if (n > plen - pos)
				n = plen - pos;
			while (off < n) {
				struct vpcd_msg m;
				size_t used;
				int r = vpcd_decode(&pd, stream + pos + off,
						    n - off, &used, &m);

				off += used;
				if (r < 0) {
					bad++;
					pos = plen;
					break;
				}
				if (r == 1) {
					if (m.length != lens[pgot] ||
					    m.data[0] != (uint8_t)pgot)
						bad++;
					pgot++;
				}
				if (r == 0)
					break;
			}
			pos += n;
		}
		if (pgot != nmsg)
			bad++;
	}
	is_u(bad, 0, "50 rounds of 200 random messages, cut at random, VSCard and vpcd");
	vsc_decoder_free(&vd);
	vpcd_decoder_free(&pd);
}

int main(void)
{
	test_vsc_roundtrip();
	test_vsc_encode_errors();
	test_vsc_malformed();
	test_vpcd_roundtrip();
	test_vpcd_errors();
	test_random_streams();
	return tap_done();
}

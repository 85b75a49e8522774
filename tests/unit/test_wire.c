// SPDX-License-Identifier: GPL-2.0
/*
 * test_wire.c -- the VSCard and vpcd sessions of a passthrough card, fed
 * byte streams without sockets: what they send back, when the card comes
 * and goes, which answers they hand on, and what makes them drop a peer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "vpcd.h"
#include "vscard.h"
#include "wire.h"

#define CACATR "\x3b\x7a\x18\x00\x00\x73\x66\x74\x65\x20\x63\x64\x31\x34\x34"

/* What the session did */
struct rec {
	uint8_t sent[1 << 17];
	size_t nsent;
	int inserts, ejects, answers, errors, opened;
	uint8_t atr[64];
	size_t atr_len;
	size_t answer_len;
	uint8_t answer_first;
	uint32_t error_code;
	char log[4096];
	int debug_lines;
};

static void h_send(void *h, const void *buf, size_t len)
{
	struct rec *r = h;

	if (r->nsent + len <= sizeof(r->sent)) {
		memcpy(r->sent + r->nsent, buf, len);
		r->nsent += len;
	}
}

static void h_insert(void *h, const uint8_t *atr, size_t len)
{
	struct rec *r = h;

	r->inserts++;
	memcpy(r->atr, atr, len);
	r->atr_len = len;
}

static void h_eject(void *h)
{
	((struct rec *)h)->ejects++;
}

static void h_answer(void *h, const uint8_t *rsp, size_t len)
{
	struct rec *r = h;

	r->answers++;
	r->answer_len = len;
	r->answer_first = len ? rsp[0] : 0;
}

static void h_error(void *h, uint32_t code)
{
	struct rec *r = h;

	r->errors++;
	r->error_code = code;
}

static void h_opened(void *h)
{
	((struct rec *)h)->opened++;
}

static void h_log(void *h, bool debug, const char *msg)
{
	struct rec *r = h;

	if (debug) {
		r->debug_lines++;
		return;
	}
	strncat(r->log, msg, sizeof(r->log) - strlen(r->log) - 2);
	strcat(r->log, "\n");
}

static const struct wire_host host = {
	.send = h_send, .insert = h_insert, .eject = h_eject,
	.answer = h_answer, .error = h_error, .opened = h_opened,
	.log = h_log,
};

/* The VSCard messages in r->sent, decoded */
struct sent {
	unsigned int n;
	uint32_t type[32], reader[32], len[32], code[32];
};

static void decode_sent(const struct rec *r, struct sent *s)
{
	struct vsc_decoder dec;
	size_t off = 0, used;

	memset(s, 0, sizeof(*s));
	vsc_decoder_init(&dec, 0);
	while (off < r->nsent && s->n < 32) {
		struct vsc_msg m;
		int k = vsc_decode(&dec, r->sent + off, r->nsent - off, &used, &m);

		off += used;
		if (k != 1)
			break;
		s->type[s->n] = m.type;
		s->reader[s->n] = m.reader_id;
		s->len[s->n] = m.length;
		if (m.type == VSC_ERROR)
			vsc_parse_error(&m, &s->code[s->n]);
		s->n++;
	}
	vsc_decoder_free(&dec);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Any message, of any type (the codec's encoder only writes known ones) */
static size_t enc(uint8_t *buf, size_t at, uint32_t type, uint32_t reader,
		  const void *p, size_t len)
{
	put32(buf + at, type);
	put32(buf + at + 4, reader);
	put32(buf + at + 8, (uint32_t)len);
	if (len)
		memcpy(buf + at + 12, p, len);
	return at + 12 + len;
}

/* Feed @len bytes one at a time (chunk 1) or at once */
static int feed(struct wire *w, const uint8_t *in, size_t len, size_t chunk)
{
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		int r = wire_input(w, in + off, n);

		if (r < 0)
			return r;
	}
	return 0;
}

static void test_vscard_session(size_t chunk)
{
	static uint8_t in[1 << 17];
	static struct rec r;
	struct wire w;
	struct sent s;
	size_t n = 0;
	uint8_t init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0 };

	memset(&r, 0, sizeof(r));
	ok(wire_init(&w, CFG_WIRE_VSCARD, &host, &r) == 0, "VSCard session set up (chunks of %zu)", chunk);
	wire_connected(&w);
	is_u(r.nsent, 0, "VSCard: the card user waits for the provider to speak");

	/* what vscclient sends: Init, ReaderRemove, ReaderAdd, ATR */
	n = enc(in, n, VSC_INIT, VSC_READER_ID_UNDEFINED, init, sizeof(init));
	n = enc(in, n, VSC_READER_REMOVE, 0, NULL, 0);
	n = enc(in, n, VSC_READER_ADD, VSC_READER_ID_UNDEFINED, NULL, 0);
	n = enc(in, n, VSC_READER_ADD, VSC_READER_ID_UNDEFINED, NULL, 0);
	n = enc(in, n, VSC_ATR, 0, CACATR, 15);
	is_i(feed(&w, in, n, chunk), 0, "Init, ReaderRemove, two ReaderAdds and an ATR are taken");
	decode_sent(&r, &s);
	ok(s.n == 5 && s.type[0] == VSC_INIT && s.reader[0] == VSC_READER_ID_UNDEFINED &&
	   s.len[0] == 12, "Init is answered with an Init");
	ok(s.type[1] == VSC_ERROR && s.code[1] == VSC_SUCCESS,
	   "ReaderRemove is answered with Error(success), as QEMU does");
	ok(s.type[2] == VSC_ERROR && s.code[2] == VSC_SUCCESS && s.reader[2] == 0,
	   "the first ReaderAdd gets Error(success) for reader 0");
	ok(s.type[3] == VSC_ERROR && s.code[3] == VSC_CANNOT_ADD_MORE_READERS &&
	   s.reader[3] == VSC_READER_ID_UNDEFINED,
	   "a second ReaderAdd gets Error(cannot add more readers)");
	ok(s.type[4] == VSC_ERROR && s.code[4] == VSC_SUCCESS,
	   "the ATR is acknowledged with Error(success)");
	ok(r.inserts == 1 && r.atr_len == 15 && !memcmp(r.atr, CACATR, 15),
	   "the card enters with the provider's ATR");
	ok(r.opened >= 1, "the provider counts as identified");

	/* a response, an Error while a command is owed, unknown types */
	r.nsent = 0;
	n = 0;
	n = enc(in, n, VSC_APDU, 0, "\x90\x00", 2);
	n = enc(in, n, VSC_ERROR, 0, "\0\0\0\x01", 4);
	n = enc(in, n, 42, 0, "junk", 4);
	n = enc(in, n, VSC_FLUSH, 0, NULL, 0);
	n = enc(in, n, VSC_CARD_REMOVE, 0, NULL, 0);
	n = enc(in, n, VSC_READER_REMOVE, 0, NULL, 0);
	n = enc(in, n, VSC_READER_ADD, VSC_READER_ID_UNDEFINED, NULL, 0);
	is_i(feed(&w, in, n, chunk), 0, "a response, an Error, an unknown type and more are taken");
	ok(r.answers == 1 && r.answer_len == 2 && r.answer_first == 0x90,
	   "the response is handed on");
	ok(r.errors == 1 && r.error_code == 1,
	   "the provider's Error is handed on (to fail the owed command)");
	decode_sent(&r, &s);
	ok(s.n == 5 && s.type[0] == VSC_ERROR && s.code[0] == VSC_GENERAL_ERROR,
	   "an unknown message type gets Error(general error), and the session goes on");
	ok(s.type[1] == VSC_FLUSH_COMPLETE, "Flush gets FlushComplete");
	ok(s.type[2] == VSC_ERROR && s.code[2] == VSC_SUCCESS && r.ejects >= 1,
	   "CardRemove takes the card out, acknowledged");
	ok(s.type[4] == VSC_ERROR && s.code[4] == VSC_SUCCESS,
	   "after ReaderRemove a ReaderAdd succeeds again");

	/* commands */
	r.nsent = 0;
	is_i(wire_command(&w, (const uint8_t *)"\x00\xa4\x04\x00", 4), 0,
	     "a command APDU is sent");
	decode_sent(&r, &s);
	ok(s.n == 1 && s.type[0] == VSC_APDU && s.reader[0] == 0 && s.len[0] == 4,
	   "... as one VSCard APDU message for reader 0");
	{
		static uint8_t big[65545];

		r.nsent = 0;
		is_i(wire_command(&w, big, 65544), 0, "a 65544-byte command APDU travels");
		is_i(wire_command(&w, big, 65545), -EMSGSIZE,
		     "a longer one cannot (EMSGSIZE)");
	}
	wire_free(&w);
}

/*
 * Debug lines (one per message) reach the host only when the session
 * wants them: otherwise they are not even formatted, since they are on
 * every APDU's path.
 */
static void test_debug_lines(void)
{
	static uint8_t in[256];
	static struct rec r;
	uint8_t init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0 };
	struct wire w;
	size_t n = 0;
	int quiet;

	memset(&r, 0, sizeof(r));
	wire_init(&w, CFG_WIRE_VSCARD, &host, &r);
	wire_connected(&w);
	n = enc(in, n, VSC_INIT, VSC_READER_ID_UNDEFINED, init, sizeof(init));
	n = enc(in, n, VSC_READER_ADD, VSC_READER_ID_UNDEFINED, NULL, 0);
	n = enc(in, n, VSC_ATR, 0, CACATR, 15);
	n = enc(in, n, VSC_APDU, 0, "\x90\x00", 2);
	wire_command(&w, (const uint8_t *)"\x00\xa4\x04\x00", 4);
	is_i(feed(&w, in, n, sizeof(in)), 0, "without debug: a session's messages are taken");
	quiet = r.debug_lines;
	is_i(quiet, 0, "without debug: no debug line is made for them");

	w.debug = true;
	n = enc(in, 0, VSC_APDU, 0, "\x90\x00", 2);
	wire_command(&w, (const uint8_t *)"\x00\xa4\x04\x00", 4);
	feed(&w, in, n, sizeof(in));
	is_i(r.debug_lines - quiet, 1, "with debug: one line for the answer");
	ok(r.answers == 2, "both answers are handed on");
	wire_free(&w);
}

static void test_vscard_before_init(void)
{
	static uint8_t in[4096];
	static struct rec r;
	struct wire w;
	size_t n = 0;

	memset(&r, 0, sizeof(r));
	wire_init(&w, CFG_WIRE_VSCARD, &host, &r);
	wire_connected(&w);
	n = enc(in, n, VSC_READER_ADD, VSC_READER_ID_UNDEFINED, NULL, 0);
	n = enc(in, n, VSC_ATR, 0, CACATR, 15);
	n = enc(in, n, VSC_APDU, 0, "\x61\x10", 2);
	is_i(wire_input(&w, in, n), 0,
	     "messages before any Init are taken (QEMU does not require Init first)");
	ok(r.inserts == 1 && r.answers == 1 && r.opened == 1,
	   "... the ATR inserts the card, the response is handed on");
	wire_free(&w);
}

static void test_vscard_atrs(void)
{
	static const struct {
		const char *atr;
		size_t len;
		bool good;
		const char *what;
	} atrs[] = {
		{ CACATR, 15, true, "libcacard's CAC ATR" },
		{ "\x3b\x81\x80\x01\x80\x80", 6, true, "a T=1 ATR with TCK" },
		{ "\x3b\x00", 2, true, "the shortest ATR, 3B 00" },
		{ "\x3b\x8f\x80\x01", 4, false, "an ATR announcing 15 historical bytes with 0" },
		{ "\x00\x7a\x18\x00\x00\x73\x66\x74\x65\x20\x63\x64\x31\x34\x34", 15, false, "TS 00" },
		{ "\x3b\x81\x80\x01\x80", 5, false, "T=1 without its TCK" },
		{ "\x3b", 1, false, "one byte" },
		{ "\x3b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
		  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 34, false, "34 bytes" },
	};

	for (size_t i = 0; i < sizeof(atrs) / sizeof(atrs[0]); i++) {
		static uint8_t in[256];
		static struct rec r;
		struct wire w;
		struct sent s;
		size_t n;

		memset(&r, 0, sizeof(r));
		wire_init(&w, CFG_WIRE_VSCARD, &host, &r);
		wire_connected(&w);
		n = enc(in, 0, VSC_ATR, 0, atrs[i].atr, atrs[i].len);
		is_i(wire_input(&w, in, n), 0, "ATR (%s): the peer stays", atrs[i].what);
		decode_sent(&r, &s);
		if (atrs[i].good)
			ok(r.inserts == 1 && s.n == 1 && s.code[0] == VSC_SUCCESS,
			   "... the card enters, Error(success)");
		else
			ok(r.inserts == 0 && s.n == 1 && s.code[0] == VSC_GENERAL_ERROR,
			   "... ignored, Error(general error), as QEMU answers it");
		wire_free(&w);
	}
}

static void test_vscard_drops(void)
{
	static uint8_t in[256];
	static struct rec r;
	struct wire w;
	size_t n;

	memset(&r, 0, sizeof(r));
	wire_init(&w, CFG_WIRE_VSCARD, &host, &r);
	wire_connected(&w);
	n = enc(in, 0, VSC_INIT, 0, "VSCX\0\0\0\x02", 8);
	ok(wire_input(&w, in, n) < 0 && strstr(w.why, "VSCD"),
	   "an Init without the magic drops the peer: %s", w.why);

	wire_connected(&w);
	memcpy(in, "\0\0\0\x07\0\0\0\0\xff\xff\xff\xff", 12);
	ok(wire_input(&w, in, 12) < 0 && strstr(w.why, "limit"),
	   "a 4 GiB length drops the peer: %s", w.why);
	wire_connected(&w);
	r.inserts = 0;
	n = enc(in, 0, VSC_ATR, 0, CACATR, 15);
	ok(wire_input(&w, in, n) == 0 && r.inserts == 1,
	   "after wire_connected() a new peer is served");

	wire_connected(&w);
	memcpy(in, "\0\0\0\x07\0\0\0\0\0\0\0\x10\x90", 13);
	ok(wire_input(&w, in, 13) == 0 && wire_partial(&w),
	   "half a message: the session says so (for TCP_QUICKACK)");
	wire_free(&w);
}

static void test_vpcd_session(void)
{
	static struct rec r;
	struct vpcd_decoder dec;
	struct wire w;
	uint8_t in[64];
	size_t used;
	struct vpcd_msg m;

	memset(&r, 0, sizeof(r));
	ok(wire_init(&w, CFG_WIRE_VPCD, &host, &r) == 0, "vpcd session set up");
	wire_connected(&w);
	ok(r.nsent == 6 && !memcmp(r.sent, "\0\x01\x01\0\x01\x04", 6),
	   "vpcd: a new card is powered and asked for its ATR");
	memcpy(in, "\0\x0f" CACATR, 17);
	is_i(wire_input(&w, in, 17), 0, "its ATR is taken");
	ok(r.inserts == 1 && r.atr_len == 15 && r.opened == 1,
	   "... the card enters, the provider is identified");
	memcpy(in, "\0\x02\x90\x00", 4);
	wire_input(&w, in, 4);
	ok(r.answers == 1 && r.answer_len == 2, "a response is handed on");
	r.nsent = 0;
	wire_power(&w, true);
	wire_power(&w, false);
	ok(r.nsent == 6 && !memcmp(r.sent, "\0\x01\x02\0\x01\x00", 6),
	   "power on is a reset, power off is off");
	r.nsent = 0;
	is_i(wire_command(&w, (const uint8_t *)"\x00\xa4\x04\x00", 4), 0, "a command is sent");
	vpcd_decoder_init(&dec, VPCD_ROLE_CARD, 0);
	ok(vpcd_decode(&dec, r.sent, r.nsent, &used, &m) == 1 && m.length == 4,
	   "... as one vpcd message");
	vpcd_decoder_free(&dec);
	{
		static uint8_t big[65536];

		is_i(wire_command(&w, big, sizeof(big)), -EMSGSIZE,
		     "a 65536-byte command cannot travel over vpcd");
	}
	wire_connected(&w);
	memcpy(in, "\0\x28", 2);
	memset(in + 2, 0x3b, 40);
	ok(wire_input(&w, in, 42) < 0 && strstr(w.why, "ATR"),
	   "a 40-byte ATR drops the peer: %s", w.why);
	wire_free(&w);
}

int main(void)
{
	test_vscard_session(65536);
	test_vscard_session(1);
	test_vscard_before_init();
	test_debug_lines();
	test_vscard_atrs();
	test_vscard_drops();
	test_vpcd_session();
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * wire_vscard.c -- the VSCard protocol, as the card user (QEMU's
 * ccid-card-passthru, here ccidctl) speaks it
 *
 * The provider (vscclient, a SPICE client) usually speaks first: Init,
 * then ReaderRemove (to clear what an earlier session left), ReaderAdd,
 * ATR when a card is there, APDU responses, CardRemove. The answers follow
 * what QEMU does, so that providers written against QEMU work unchanged:
 *
 *   Init          answered with our Init; a wrong magic is not a VSCard
 *                 peer and is dropped (QEMU can only complain)
 *   ReaderAdd     Error(success) for the one reader a card has;
 *                 Error(cannot add more readers) while it is there
 *   ReaderRemove  the card goes; Error(success)
 *   ATR           the card enters; Error(success); an ATR no card can
 *                 have (length, TS, too short for its own T0) gets
 *                 Error(general error) and is ignored
 *   CardRemove    the card goes; Error(success)
 *   APDU          the answer to the oldest command
 *   Error         fails the command the provider owes an answer to
 *   Flush         FlushComplete
 *   other types   Error(general error), the message is skipped
 *
 * Messages are taken in any order: nothing has to wait for Init.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vscard.h"
#include "wire.h"

/* The reader id QEMU gives the one reader a card has */
#define VSC_OUR_READER	0

struct vsc_state {
	struct vsc_decoder dec;
	bool inited;		/* the peer's Init was answered */
	bool reader;		/* a reader was added and not removed */
};

static int vsc_init_state(struct wire *w)
{
	struct vsc_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	if (vsc_decoder_init(&st->dec, 0)) {
		free(st);
		return -ENOMEM;
	}
	w->state = st;
	return 0;
}

static void vsc_free_state(struct wire *w)
{
	struct vsc_state *st = w->state;

	if (!st)
		return;
	vsc_decoder_free(&st->dec);
	free(st);
	w->state = NULL;
}

static void vsc_connected(struct wire *w)
{
	struct vsc_state *st = w->state;

	vsc_decoder_reset(&st->dec);
	st->inited = false;
	st->reader = false;
	/* the provider speaks first */
}

static void vsc_send(struct wire *w, uint32_t type, uint32_t reader,
		     const void *p, size_t len)
{
	ssize_t n = vsc_encode(w->out, w->out_cap, type, reader, p, len);

	if (n > 0)
		w->host->send(w->h, w->out, (size_t)n);
}

static void vsc_send_error(struct wire *w, uint32_t reader, uint32_t code)
{
	ssize_t n = vsc_encode_error(w->out, w->out_cap, reader, code);

	if (n > 0)
		w->host->send(w->h, w->out, (size_t)n);
}

/*
 * Could a card have this ATR? TS must be 3B or 3F, and the ATR must hold
 * every interface byte its format bytes announce, the historical bytes,
 * and TCK when a protocol other than T=0 is indicated. Extra bytes are
 * let through, as QEMU does.
 */
static const char *atr_problem(const uint8_t *atr, size_t len)
{
	size_t need = 2, i = 1;
	unsigned int y, k;
	bool tck = false;

	if (len < 2 || len > VSC_MAX_ATR)
		return "an ATR has 2 to 33 bytes";
	if (atr[0] != 0x3b && atr[0] != 0x3f)
		return "TS is neither 3B nor 3F";
	k = atr[1] & 0x0f;
	y = atr[1] >> 4;
	/* walk the TDi chain: each Yi says which of TAi..TDi follow */
	for (int level = 1; level <= 8; level++) {
		size_t td;

		need += (size_t)__builtin_popcount(y);
		if (!(y & 0x8))
			break;
		td = i + (size_t)__builtin_popcount(y);
		if (td >= len)
			return "shorter than its interface bytes";
		if ((atr[td] & 0x0f) != 0)
			tck = true;
		y = atr[td] >> 4;
		i = td;
	}
	need += k + (tck ? 1 : 0);
	if (len < need)
		return "shorter than its interface and historical bytes";
	return NULL;
}

static int vsc_message(struct wire *w, const struct vsc_msg *m)
{
	struct vsc_state *st = w->state;
	struct vsc_init init;
	const char *bad;
	uint32_t code;

	wire_log(w, true, "VSCard %s, %u bytes", vsc_type_name(m->type),
		 m->length);
	switch (m->type) {
	case VSC_INIT:
		if (vsc_parse_init(m, &init))
			return wire_fail(w, -EPROTO,
					 "VSCard Init without the magic \"VSCD\": not a VSCard peer");
		if (init.version != VSC_VERSION)
			wire_log(w, false, "provider speaks VSCard version %#x, ccidctl %#x",
				 init.version, VSC_VERSION);
		st->inited = true;
		{
			ssize_t n = vsc_encode_init(w->out, w->out_cap,
						    VSC_READER_ID_UNDEFINED,
						    VSC_VERSION, 0);

			if (n > 0)
				w->host->send(w->h, w->out, (size_t)n);
		}
		w->host->opened(w->h);
		break;
	case VSC_READER_ADD:
		if (st->reader) {
			wire_log(w, false, "provider adds a second reader: refused, a card has one");
			vsc_send_error(w, VSC_READER_ID_UNDEFINED,
				       VSC_CANNOT_ADD_MORE_READERS);
			break;
		}
		st->reader = true;
		vsc_send_error(w, VSC_OUR_READER, VSC_SUCCESS);
		break;
	case VSC_READER_REMOVE:
		st->reader = false;
		w->host->eject(w->h);
		vsc_send_error(w, m->reader_id, VSC_SUCCESS);
		break;
	case VSC_ATR:
		bad = atr_problem(m->data, m->length);
		if (bad) {
			wire_log(w, false, "provider's ATR of %u bytes ignored: %s",
				 m->length, bad);
			vsc_send_error(w, m->reader_id, VSC_GENERAL_ERROR);
			break;
		}
		w->host->insert(w->h, m->data, m->length);
		vsc_send_error(w, m->reader_id, VSC_SUCCESS);
		w->host->opened(w->h);
		break;
	case VSC_CARD_REMOVE:
		w->host->eject(w->h);
		vsc_send_error(w, m->reader_id, VSC_SUCCESS);
		break;
	case VSC_APDU:
		w->host->answer(w->h, m->data, m->length);
		break;
	case VSC_ERROR:
		if (vsc_parse_error(m, &code) == 0)
			w->host->error(w->h, code);
		break;
	case VSC_FLUSH:
		vsc_send(w, VSC_FLUSH_COMPLETE, m->reader_id, NULL, 0);
		break;
	case VSC_FLUSH_COMPLETE:
		break;
	default:
		wire_log(w, false, "provider sent a VSCard message of unknown type %u (%u bytes): answered with an error",
			 m->type, m->length);
		vsc_send_error(w, m->reader_id, VSC_GENERAL_ERROR);
		break;
	}
	return 0;
}

static int vsc_input(struct wire *w, const uint8_t *in, size_t len)
{
	struct vsc_state *st = w->state;
	size_t off = 0, used;

	while (off < len) {
		struct vsc_msg m;
		int r = vsc_decode(&st->dec, in + off, len - off, &used, &m);

		off += used;
		if (r < 0)
			return wire_fail(w, r, "VSCard protocol error: %s",
					 vsc_decoder_error(&st->dec));
		if (r == 0)
			break;
		r = vsc_message(w, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

static int vsc_command(struct wire *w, const uint8_t *apdu, size_t len)
{
	ssize_t n;

	if (len > wire_vscard.max_command)
		return -EMSGSIZE;
	n = vsc_encode(w->out, w->out_cap, VSC_APDU, VSC_OUR_READER, apdu, len);
	if (n < 0)
		return (int)n;
	w->host->send(w->h, w->out, (size_t)n);
	return 0;
}

static void vsc_power(struct wire *w, bool on)
{
	/* VSCard has no power messages; QEMU sends none either */
	(void)w;
	(void)on;
}

static bool vsc_partial(const struct wire *w)
{
	const struct vsc_state *st = w->state;

	return !vsc_decoder_idle(&st->dec);
}

const struct wire_proto wire_vscard = {
	.name = "VSCard",
	.max_command = VSC_DEFAULT_MAX_PAYLOAD,
	.init = vsc_init_state,
	.free = vsc_free_state,
	.connected = vsc_connected,
	.input = vsc_input,
	.command = vsc_command,
	.power = vsc_power,
	.partial = vsc_partial,
};

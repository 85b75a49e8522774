// SPDX-License-Identifier: GPL-2.0
/*
 * wire_vpcd.c -- vsmartcard's vpcd protocol, as the reader (vpcd, here
 * ccidctl) speaks it to a card (vicc)
 *
 * On a new connection the reader powers the card and asks for its ATR;
 * the card enters the slot when the ATR comes. The host's power-on (a
 * reset) and power-off are passed on as control codes, which get no
 * answer; command APDUs are answered by response APDUs, in order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpcd.h"
#include "wire.h"

#define VPCD_MAX_ATR	33

struct vpcd_state {
	struct vpcd_decoder dec;
	bool want_atr;		/* asked for the ATR, not answered yet */
};

static int vpcd_init_state(struct wire *w)
{
	struct vpcd_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	if (vpcd_decoder_init(&st->dec, VPCD_ROLE_READER, 0)) {
		free(st);
		return -ENOMEM;
	}
	w->state = st;
	return 0;
}

static void vpcd_free_state(struct wire *w)
{
	struct vpcd_state *st = w->state;

	if (!st)
		return;
	vpcd_decoder_free(&st->dec);
	free(st);
	w->state = NULL;
}

static void vpcd_ctrl(struct wire *w, uint8_t code)
{
	ssize_t n = vpcd_encode_ctrl(w->out, w->out_cap, code);

	if (n > 0)
		w->host->send(w->h, w->out, (size_t)n);
}

static void vpcd_connected(struct wire *w)
{
	struct vpcd_state *st = w->state;

	vpcd_decoder_reset(&st->dec);
	/* power the card and ask for its ATR; it enters the slot then */
	vpcd_ctrl(w, VPCD_CTRL_ON);
	vpcd_ctrl(w, VPCD_CTRL_ATR);
	st->want_atr = true;
}

static int vpcd_input(struct wire *w, const uint8_t *in, size_t len)
{
	struct vpcd_state *st = w->state;
	size_t off = 0, used;

	while (off < len) {
		struct vpcd_msg m;
		int r = vpcd_decode(&st->dec, in + off, len - off, &used, &m);

		off += used;
		if (r < 0)
			return wire_fail(w, r, "vpcd protocol error: %s",
					 vpcd_decoder_error(&st->dec));
		if (r == 0)
			break;
		wire_log(w, true, "vpcd message, %zu bytes", m.length);
		if (st->want_atr) {
			st->want_atr = false;
			if (m.length < 2 || m.length > VPCD_MAX_ATR)
				return wire_fail(w, -EPROTO,
						 "vpcd ATR of %zu bytes: an ATR has 2 to 33",
						 m.length);
			w->host->insert(w->h, m.data, m.length);
			w->host->opened(w->h);
			continue;
		}
		w->host->answer(w->h, m.data, m.length);
	}
	return 0;
}

static int vpcd_command(struct wire *w, const uint8_t *apdu, size_t len)
{
	ssize_t n;

	if (len > VPCD_MAX_PAYLOAD)
		return -EMSGSIZE;
	n = vpcd_encode(w->out, w->out_cap, apdu, len);
	if (n < 0)
		return (int)n;
	w->host->send(w->h, w->out, (size_t)n);
	return 0;
}

static void vpcd_power(struct wire *w, bool on)
{
	vpcd_ctrl(w, on ? VPCD_CTRL_RESET : VPCD_CTRL_OFF);
}

static bool vpcd_partial(const struct wire *w)
{
	const struct vpcd_state *st = w->state;

	return !vpcd_decoder_idle(&st->dec);
}

const struct wire_proto wire_vpcd = {
	.name = "vpcd",
	.max_command = VPCD_MAX_PAYLOAD,
	.init = vpcd_init_state,
	.free = vpcd_free_state,
	.connected = vpcd_connected,
	.input = vpcd_input,
	.command = vpcd_command,
	.power = vpcd_power,
	.partial = vpcd_partial,
};

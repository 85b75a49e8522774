// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_engine.c -- libFuzzer target for the CCID protocol engine
 *
 * The input is a script: four bytes of configuration, then operations,
 * each one opcode byte and its arguments read from the input (running out
 * of input reads zeros). Operations are what the USB host and the daemon
 * can do: raw and well-formed PC_to_RDR messages, chained XfrBlocks,
 * APDU replies and failures, time extensions, card insertion and removal,
 * class ABORT requests, host resets, notifications.
 *
 * After every operation the engine is checked against a shadow of the
 * pending commands and against the invariants of the protocol: replies fit
 * their buffers and are well-formed RDR_to_PC messages that echo bSlot and
 * bSeq, ids are unique and never 0, busy slots are counted correctly.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined together with
 * kmod/ccid_engine.c; the seed corpus is tests/fuzz/corpus/engine/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid_engine.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

struct input {
	const u8 *p;
	size_t left;
};

static u8 in_u8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static u16 in_u16(struct input *in)
{
	u16 lo = in_u8(in);

	return lo | (u16)(in_u8(in) << 8);
}

static u32 in_u32(struct input *in)
{
	u32 lo = in_u16(in);

	return lo | ((u32)in_u16(in) << 16);
}

static u32 le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 |
	       (u32)p[3] << 24;
}

static void put_le32(u8 *p, u32 v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* State of one run */
static struct ccid_engine eng;
static u32 pending[CCID_MAX_SLOTS];	/* shadow: id pending per slot */
static u8 *out;
static u32 out_size;
static u8 *msg;
static u8 *big;				/* responses, patterned */

static void check_engine(void)
{
	u32 i, j, n = 0;

	for (i = 0; i < eng.cfg.nslots; i++) {
		const struct ccid_slot *s = &eng.slot[i];
		const u8 *p;
		int r;

		CHECK(s->state <= CCIDG_SLOT_POWERED);
		CHECK(!!s->busy == !!pending[i]);
		if (s->busy) {
			n++;
			CHECK(s->busy_id == pending[i]);
			CHECK(s->state == CCIDG_SLOT_POWERED);
			CHECK(!s->cmd_chaining && !s->rsp_chaining);
			CHECK(!s->aborting);
			r = ccid_pending_apdu(&eng, i, pending[i], &p);
			CHECK(r > 0 && r <= CCID_MAX_CMD_APDU);
			for (j = 0; j < i; j++)
				CHECK(pending[j] != pending[i]);
		}
		CHECK(s->cmd_len <= CCID_MAX_CMD_APDU);
		CHECK(s->rsp_len <= CCID_MAX_RSP_APDU);
		CHECK(s->rsp_off <= s->rsp_len);
		CHECK(!(s->cmd_chaining && s->rsp_chaining));
		if (s->state != CCIDG_SLOT_EMPTY)
			CHECK(s->atr_len >= 2 && s->atr_len <= CCID_MAX_ATR);
		else
			CHECK(!s->cmd_chaining && !s->rsp_chaining);
		CHECK(s->protocol <= 1);
	}
	CHECK(eng.nbusy == n);
	CHECK(eng.nbusy <= eng.cfg.busy_slots);
}

/* A bulk-in reply: well-formed and within its buffer */
static void check_reply(const u8 *r, u32 len, int slot, int seq)
{
	u32 dlen;
	u8 cmd;

	if (!len)
		return;
	CHECK(len >= CCID_HDR_LEN && len <= out_size);
	CHECK(len <= eng.cfg.max_msg_len);
	dlen = le32(r + 1);
	CHECK(dlen == len - CCID_HDR_LEN);
	CHECK(r[0] >= CCID_RDR_DATA_BLOCK && r[0] <= CCID_RDR_DATA_RATE_CLOCK);
	cmd = r[7] & 0xc0;
	CHECK(cmd != 0xc0);
	CHECK((r[7] & 0x03) != 0x03);
	CHECK(!(r[7] & 0x3c));
	if (cmd)
		CHECK(dlen == 0);
	if (dlen)
		CHECK(r[0] == CCID_RDR_DATA_BLOCK ||
		      r[0] == CCID_RDR_PARAMETERS ||
		      r[0] == CCID_RDR_DATA_RATE_CLOCK);
	if (slot >= 0)
		CHECK(r[5] == slot);
	if (seq >= 0)
		CHECK(r[6] == seq);
	if (r[0] == CCID_RDR_DATA_BLOCK && !cmd)
		CHECK(r[9] <= 3 || r[9] == 0x10);
}

/* Events of a message or a class request, applied to the shadow */
static void apply_events(const struct ccid_result *res)
{
	u32 i;

	if (res->events & CCID_EV_ABORT) {
		CHECK(res->slot < eng.cfg.nslots);
		CHECK(res->abort_id && pending[res->slot] == res->abort_id);
		pending[res->slot] = 0;
	}
	if (res->events & CCID_EV_APDU) {
		CHECK(res->slot < eng.cfg.nslots);
		CHECK(res->id && !res->reply_len);
		CHECK(!pending[res->slot]);
		for (i = 0; i < eng.cfg.nslots; i++)
			CHECK(pending[i] != res->id);
		pending[res->slot] = res->id;
	}
	if (res->events & (CCID_EV_POWER_ON | CCID_EV_POWER_OFF))
		CHECK(res->slot < eng.cfg.nslots);
}

static const u8 types[] = {
	CCID_PC_SET_PARAMETERS, CCID_PC_ICC_POWER_ON, CCID_PC_ICC_POWER_OFF,
	CCID_PC_GET_SLOT_STATUS, CCID_PC_SECURE, CCID_PC_T0APDU,
	CCID_PC_ESCAPE, CCID_PC_GET_PARAMETERS, CCID_PC_RESET_PARAMETERS,
	CCID_PC_ICC_CLOCK, CCID_PC_XFR_BLOCK, CCID_PC_MECHANICAL,
	CCID_PC_ABORT, CCID_PC_SET_DATA_RATE_CLOCK, 0x00, 0x70,
};

static const u16 levels[] = { 0x00, 0x01, 0x02, 0x03, 0x10, 0x00, 0x03 };

static void send_msg(u32 len)
{
	struct ccid_result res;
	int slot = -1, seq = -1;
	u64 in = eng.stats.msgs_in;

	memset(&res, 0xa5, sizeof(res));
	ccid_handle_msg(&eng, msg, len, out, out_size, &res);
	CHECK(eng.stats.msgs_in == in + 1);
	if (len >= CCID_HDR_LEN) {
		u32 dw = le32(msg + 1);

		CHECK(ccid_msg_total_len(msg) ==
		      (dw > 0xffffffffu - CCID_HDR_LEN ? 0xffffffffu :
		       dw + CCID_HDR_LEN));
		slot = msg[5];
		seq = msg[6];
		/* every message with a header is answered or delivered */
		CHECK(res.reply_len || (res.events & CCID_EV_APDU));
	} else {
		CHECK(!res.reply_len && !res.events);
	}
	check_reply(out, res.reply_len, slot, seq);
	apply_events(&res);
}

/* Length of a data field: small ones often, up to the largest sometimes */
static u32 in_len(struct input *in, u32 max)
{
	u8 mode = in_u8(in);
	u32 n;

	switch (mode & 3) {
	case 0:
		n = mode >> 2;
		break;
	case 1:
		n = max - (mode >> 2);
		break;
	default:
		n = in_u16(in) + ((mode & 4) ? 65536u : 0);
		break;
	}
	return n > max ? max : n;
}

static void op(struct input *in)
{
	u8 code = in_u8(in);
	u32 n = eng.cfg.nslots;
	u32 len, id, i, out_len, aid;
	struct ccid_result res;
	const u8 *p;
	u8 atr[40];
	int r;

	/* bit 7 is a flag for some operations */
	switch ((code & 0x7f) % 13) {
	case 0:	/* raw bytes from the input */
		len = in_u16(in) % (eng.cfg.max_msg_len + 16);
		for (i = 0; i < len; i++)
			msg[i] = in_u8(in);
		send_msg(len);
		break;
	case 1:	/* a well-formed header of any type */
		msg[0] = types[in_u8(in) % sizeof(types)];
		msg[5] = in_u8(in) % (n + 1);
		msg[6] = in_u8(in);
		msg[7] = in_u8(in);
		msg[8] = in_u8(in);
		msg[9] = in_u8(in);
		len = in_u8(in) % 12;
		for (i = 0; i < len; i++)
			msg[10 + i] = in_u8(in);
		put_le32(msg + 1, len);
		send_msg(10 + len);
		break;
	case 2:	/* an XfrBlock, chained or not, possibly large */
	case 3:
		msg[0] = CCID_PC_XFR_BLOCK;
		msg[5] = in_u8(in) % n;
		msg[6] = in_u8(in);
		msg[7] = 0;
		i = in_u8(in);
		len = i < 250 ? levels[i % ARRAY_SIZE(levels)] : in_u16(in);
		msg[8] = len & 0xff;
		msg[9] = len >> 8;
		len = in_len(in, eng.cfg.max_msg_len - CCID_HDR_LEN);
		memset(msg + 10, 0x5a, len);
		if (len >= 5)
			msg[10 + 4] = in_u8(in);
		put_le32(msg + 1, len);
		send_msg(10 + len);
		break;
	case 4:	/* the daemon answers */
		i = in_u8(in) % n;
		id = (in_u8(in) & 1) ? pending[i] : in_u32(in);
		len = in_len(in, CCID_MAX_RSP_APDU + 1);
		r = ccid_apdu_reply(&eng, i, id, big, len, out, out_size,
				    &out_len);
		if (len < 2 || len > CCID_MAX_RSP_APDU) {
			CHECK(r == -EINVAL);
		} else if (id && id == pending[i]) {
			CHECK(r == 0);
			check_reply(out, out_len, i, -1);
			CHECK(out[0] == CCID_RDR_DATA_BLOCK);
			pending[i] = 0;
		} else {
			CHECK(r == -ESTALE);
		}
		break;
	case 5:	/* the daemon fails a command */
		i = in_u8(in) % n;
		id = (in_u8(in) & 1) ? pending[i] : in_u32(in);
		r = ccid_apdu_fail(&eng, i, id, in_u8(in), out, out_size,
				   &out_len);
		if (id && id == pending[i]) {
			CHECK(r == 0 && out_len == CCID_HDR_LEN);
			check_reply(out, out_len, i, -1);
			pending[i] = 0;
		} else {
			CHECK(r == -ESTALE);
		}
		break;
	case 6:	/* time extension */
		i = in_u8(in) % (n + 1);
		r = ccid_time_extension(&eng, i, in_u8(in), out, out_size,
					&out_len);
		if (i >= n)
			CHECK(r == -EINVAL);
		else if (pending[i])
			CHECK(r == 0 && out_len == CCID_HDR_LEN &&
			      (out[7] & 0xc0) == CCID_CMD_TIME_EXT);
		else
			CHECK(r == -ENOENT);
		break;
	case 7:	/* card insertion */
		i = in_u8(in) % (n + 1);
		len = in_u8(in) % (sizeof(atr) + 1);
		for (id = 0; id < len; id++)
			atr[id] = in_u8(in);
		if (len && (code & 0x80))
			atr[0] = 0x3b;
		r = ccid_card_insert(&eng, i, atr, len);
		if (!r)
			CHECK(i < n && eng.slot[i].state == CCIDG_SLOT_PRESENT);
		break;
	case 8:	/* card removal */
		i = in_u8(in) % (n + 1);
		r = ccid_card_remove(&eng, i, out, out_size, &out_len, &aid);
		if (!r) {
			CHECK(aid == pending[i]);
			CHECK(!!out_len == !!aid);
			check_reply(out, out_len, i, -1);
			pending[i] = 0;
		}
		break;
	case 9:	/* class request ABORT */
		i = in_u8(in) % (n + 1);
		r = ccid_class_abort(&eng, (u16)(in_u8(in) << 8 | i), out,
				     out_size, &res);
		if (i >= n) {
			CHECK(r == -EINVAL);
		} else {
			CHECK(r == 0);
			check_reply(out, res.reply_len, i, -1);
			CHECK(!!res.reply_len == !!(res.events & CCID_EV_ABORT));
			apply_events(&res);
		}
		break;
	case 10:
		ccid_host_reset(&eng);
		memset(pending, 0, sizeof(pending));
		break;
	case 11: {
		u8 nb[CCID_NOTIFY_MAX_LEN];

		len = (code & 0x80) ? ccid_build_notify_all(&eng, nb, sizeof(nb))
				    : ccid_build_notify(&eng, nb, sizeof(nb));
		CHECK(len == 0 || (len == 1 + (2 * n + 7) / 8 && nb[0] == 0x50));
		break;
	}
	default: {
		struct ccidg_status st;

		i = in_u8(in) % (n + 1);
		r = ccid_pending_apdu(&eng, i, in_u32(in), &p);
		CHECK(r == -ESTALE || (i < n && r > 0));
		ccid_get_status(&eng, &st);
		CHECK(st.nslots == n);
		break;
	}
	}
	check_engine();
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct input in = { data, size };
	struct ccid_config cfg;
	u8 *ebuf;
	u32 steps = 0;
	u8 m;

	if (!msg) {
		msg = malloc(CCID_MAX_MSG_LEN + 16);
		big = malloc(CCID_MAX_RSP_APDU + 1);
		if (!msg || !big)
			abort();
		for (m = 0; m < 255; m++)
			big[m] = m;
		for (size_t k = 255; k < CCID_MAX_RSP_APDU + 1; k++)
			big[k] = k * 31;
	}

	ccid_config_default(&cfg);
	cfg.nslots = 1 + in_u8(&in) % CCID_MAX_SLOTS;
	cfg.busy_slots = 1 + in_u8(&in) % cfg.nslots;
	cfg.protocols = 1 + in_u8(&in) % 3;
	m = in_u8(&in);
	switch (m & 3) {
	case 0:
		cfg.max_msg_len = CCID_MIN_MSG_LEN;
		break;
	case 1:
		cfg.max_msg_len = CCID_MAX_MSG_LEN;
		break;
	default:
		cfg.max_msg_len = CCID_MIN_MSG_LEN + (m >> 2) * 37;
		break;
	}
	if (ccid_config_check(&cfg))
		abort();

	ebuf = malloc(ccid_engine_buf_size(&cfg));
	out_size = cfg.max_msg_len;
	out = malloc(out_size);
	if (!ebuf || !out)
		abort();
	ccid_engine_init(&eng, &cfg, ebuf);
	memset(pending, 0, sizeof(pending));

	while (in.left && steps++ < 4096)
		op(&in);

	free(out);
	free(ebuf);
	return 0;
}

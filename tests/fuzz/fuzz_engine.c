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
static bool consumed[CCID_MAX_SLOTS];	/* its APDU was handed out */
static u8 *out;
static u32 out_size;
static u8 *msg;				/* the message being built */
static u8 *big;				/* responses, patterned */

/*
 * The glue's side, as f_ccid.c plays it: messages arrive in one of NBUF
 * buffers; one holding a pending APDU (CCID_EV_APDU_IN_MSG) or the source
 * of a copy job stays untouched until that ends. Copy jobs are held out
 * for as long as the input says, then done.
 */
#define NBUF	(CCID_MAX_SLOTS * 2 + 1)
static u8 *bufs[NBUF];
static int cur = -1;			/* index of msg in bufs */
static int pin_apdu[CCID_MAX_SLOTS];	/* buffer of a pending APDU, or -1 */
static int pin_copy[CCID_MAX_SLOTS];	/* buffer a command job reads, or -1 */
static u8 apdu_first[CCID_MAX_SLOTS];	/* its first byte, to check it */
struct job {
	u32 events;			/* CCID_EV_CMD_COPY, _RSP_NEXT, or 0 */
	u32 gen;
	const u8 *src;
	u8 *dst;
	u32 off, len;
};
static struct job jobs[CCID_MAX_SLOTS];

/* A buffer for the next message that nothing still needs */
static void next_buf(void)
{
	int i, k, used;

	for (k = 1; k <= NBUF; k++) {
		i = (cur + k) % NBUF;
		used = 0;
		for (u32 s = 0; s < CCID_MAX_SLOTS; s++)
			used |= pin_apdu[s] == i || pin_copy[s] == i;
		if (!used) {
			cur = i;
			msg = bufs[i];
			return;
		}
	}
	abort();	/* cannot happen: at most 2 pins a slot */
}

/* Pins of commands that are no longer pending go */
static void unpin(void)
{
	for (u32 i = 0; i < CCID_MAX_SLOTS; i++)
		if (!pending[i])
			pin_apdu[i] = -1;
}

static void check_engine(void)
{
	u32 i, j, n = 0;

	for (i = 0; i < eng.cfg.nslots; i++) {
		const struct ccid_slot *s = &eng.slot[i];
		const u8 *p;
		int r;

		CHECK(s->state <= CCIDG_SLOT_POWERED);
		CHECK(!!s->busy == !!pending[i]);
		CHECK(!!s->copying == !!jobs[i].events);
		if (s->busy) {
			n++;
			CHECK(s->busy_id == pending[i]);
			CHECK(s->state == CCIDG_SLOT_POWERED);
			CHECK(!s->cmd_chaining && !s->rsp_chaining);
			CHECK(!s->aborting);
			r = ccid_pending_apdu(&eng, i, pending[i], &p);
			if (consumed[i]) {
				CHECK(r == -ESTALE);
			} else {
				CHECK(r > 0 && r <= CCID_MAX_CMD_APDU);
				/* where it lies was left alone */
				CHECK(p[0] == apdu_first[i]);
				if (pin_apdu[i] >= 0)
					CHECK(p == bufs[pin_apdu[i]] +
					      CCID_HDR_LEN);
				else
					CHECK(p == s->cmd_buf);
			}
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
	const u8 *p;
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
		consumed[res->slot] = false;
		CHECK(ccid_pending_apdu(&eng, res->slot, res->id, &p) > 0);
		apdu_first[res->slot] = p[0];
		if (res->events & CCID_EV_APDU_IN_MSG) {
			CHECK(p == msg + CCID_HDR_LEN);
			pin_apdu[res->slot] = cur;
		} else {
			CHECK(p == eng.slot[res->slot].cmd_buf);
			pin_apdu[res->slot] = -1;
		}
	} else {
		CHECK(!(res->events & CCID_EV_APDU_IN_MSG));
	}
	if (res->events & (CCID_EV_CMD_COPY | CCID_EV_RSP_NEXT)) {
		struct job *j = &jobs[res->slot];

		CHECK(res->slot < eng.cfg.nslots && !j->events);
		CHECK(!res->reply_len);
		CHECK(res->copy_len <= eng.cfg.max_msg_len - CCID_HDR_LEN);
		j->events = res->events;
		j->gen = res->gen;
		j->src = res->copy_src;
		j->dst = res->copy_dst;
		j->off = res->copy_off;
		j->len = res->copy_len;
		if (res->events & CCID_EV_CMD_COPY) {
			u8 *cb = eng.slot[res->slot].cmd_buf;

			CHECK(res->copy_src == msg + CCID_HDR_LEN);
			CHECK(res->copy_dst == cb + res->copy_off);
			CHECK(res->copy_off + res->copy_len <= CCID_MAX_CMD_APDU);
			pin_copy[res->slot] = cur;
		} else {
			CHECK(res->copy_off + res->copy_len <= CCID_MAX_RSP_APDU);
		}
	}
	if (res->events & (CCID_EV_POWER_ON | CCID_EV_POWER_OFF))
		CHECK(res->slot < eng.cfg.nslots);
	unpin();
}

/* The glue does the copy job of slot i */
static void do_job(u32 i)
{
	struct job *j = &jobs[i];
	struct ccid_result res;
	u32 len = 0;
	int r;

	if (!j->events) {
		CHECK(ccid_cmd_copied(&eng, i, 0, out, out_size, &res) ==
		      -EINVAL);
		CHECK(ccid_rsp_chunk(&eng, i, 0, out, out_size, &len) ==
		      -EINVAL);
		return;
	}
	if (j->events & CCID_EV_CMD_COPY) {
		memcpy(j->dst, j->src, j->len);
		memset(&res, 0xa5, sizeof(res));
		r = ccid_cmd_copied(&eng, i, j->gen, out, out_size, &res);
		memset(j, 0, sizeof(*j));
		pin_copy[i] = -1;
		CHECK(r == 0 || r == -ESTALE);
		if (r == -ESTALE) {
			CHECK(!res.reply_len && !res.events);
			return;
		}
		CHECK(res.reply_len || (res.events & CCID_EV_APDU));
		check_reply(out, res.reply_len, i, -1);
		apply_events(&res);
	} else {
		memcpy(out + CCID_HDR_LEN, big + j->off, j->len);
		r = ccid_rsp_chunk(&eng, i, j->gen, out, out_size, &len);
		memset(j, 0, sizeof(*j));
		CHECK(r == 0 || r == -ESTALE);
		if (!r) {
			check_reply(out, len, i, -1);
			CHECK(out[0] == CCID_RDR_DATA_BLOCK);
		}
	}
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
		/* every message with a header is answered, delivered, or
		 * handed out as a copy job
		 */
		CHECK(res.reply_len || (res.events & (CCID_EV_APDU |
			CCID_EV_CMD_COPY | CCID_EV_RSP_NEXT)));
	} else {
		CHECK(!res.reply_len && !res.events);
	}
	check_reply(out, res.reply_len, slot, seq);
	apply_events(&res);
	next_buf();
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
	switch ((code & 0x7f) % 16) {
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
	case 4:	/* the daemon answers, the first chunk after the header */
		i = in_u8(in) % n;
		id = (in_u8(in) & 1) ? pending[i] : in_u32(in);
		len = in_len(in, CCID_MAX_RSP_APDU + 1);
		r = ccid_apdu_check(&eng, i, id, len);
		if (!r)
			memcpy(out + CCID_HDR_LEN, big,
			       min_t(u32, len, ccid_rsp_room(&eng)));
		CHECK(ccid_apdu_reply(&eng, i, id, len, out, out_size,
				      &out_len) == r);
		if (len < 2 || len > CCID_MAX_RSP_APDU) {
			CHECK(r == -EINVAL);
		} else if (id && id == pending[i]) {
			CHECK(r == 0);
			check_reply(out, out_len, i, -1);
			CHECK(out[0] == CCID_RDR_DATA_BLOCK);
			pending[i] = 0;
			unpin();
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
			unpin();
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
			unpin();
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
		unpin();
		break;
	case 11: {
		u8 nb[CCID_NOTIFY_MAX_LEN];

		len = (code & 0x80) ? ccid_build_notify_all(&eng, nb, sizeof(nb))
				    : ccid_build_notify(&eng, nb, sizeof(nb));
		CHECK(len == 0 || (len == 1 + (2 * n + 7) / 8 && nb[0] == 0x50));
		break;
	}
	case 12:	/* a copy job is done */
		do_job(in_u8(in) % n);
		break;
	case 14:	/* the glue gives up on a copy job */
		i = in_u8(in) % n;
		ccid_copy_cancel(&eng, i);
		memset(&jobs[i], 0, sizeof(jobs[i]));
		pin_copy[i] = -1;
		break;
	case 13:	/* read() handed an APDU out */
		i = in_u8(in) % n;
		ccid_apdu_consumed(&eng, i, pending[i]);
		if (pending[i]) {
			consumed[i] = true;
			pin_apdu[i] = -1;
		}
		break;
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

	if (!big) {
		for (int k = 0; k < NBUF; k++) {
			bufs[k] = malloc(CCID_MAX_MSG_LEN + 16);
			if (!bufs[k])
				abort();
		}
		big = malloc(CCID_MAX_RSP_APDU + 1);
		if (!big)
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
	memset(consumed, 0, sizeof(consumed));
	memset(jobs, 0, sizeof(jobs));
	for (u32 k = 0; k < CCID_MAX_SLOTS; k++)
		pin_apdu[k] = pin_copy[k] = -1;
	next_buf();

	while (in.left && steps++ < 4096)
		op(&in);

	free(out);
	free(ebuf);
	return 0;
}

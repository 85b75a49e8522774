// SPDX-License-Identifier: GPL-2.0
/*
 * test_engine.c -- unit tests of the CCID protocol engine (TAP output)
 *
 * Builds kmod/ccid_engine.c in userspace and drives it the way the gadget
 * glue and a USB host (libccid's algorithms in particular) would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid_engine.h"
#include "tap.h"

/* One engine under test, its buffers, and the last reply */
static struct ccid_engine eng;
static struct ccid_engine *E = &eng;
static u8 *ebuf;
static u8 *out;			/* exactly cfg.max_msg_len bytes */
static u32 out_size;
static struct ccid_result res;
static u8 *msg;			/* message being built */

/*
 * The glue's part, played as f_ccid.c plays it. Messages are kept after
 * they were handled (a pending APDU lies in its message): each one is
 * built in the next of NMSG buffers. Copy jobs are done at once. The
 * response of a slot is kept here, and its chunks handed to the engine
 * as the host asks for them.
 */
#define NMSG	64
static u8 *msgs[NMSG];
static unsigned int msg_next;
static u8 *rsp_keep[CCID_MAX_SLOTS];
static u32 copies;		/* copy jobs done */

static void next_msg_buf(void)
{
	msg = msgs[msg_next++ % NMSG];
}

static void do_jobs(void)
{
	u32 slot = res.slot, len = 0;

	if (res.events & CCID_EV_CMD_COPY) {
		memcpy(res.copy_dst, res.copy_src, res.copy_len);
		copies++;
		ccid_cmd_copied(E, slot, res.gen, out, out_size, &res);
	} else if (res.events & CCID_EV_RSP_NEXT) {
		memcpy(out + 10, rsp_keep[slot] + res.copy_off, res.copy_len);
		copies++;
		if (ccid_rsp_chunk(E, slot, res.gen, out, out_size, &len))
			len = 0;
		memset(&res, 0, sizeof(res));
		res.slot = slot;
		res.reply_len = len;
	}
}

/*
 * Answer APDU id with rsp as f_ccid.c's write() does: the first chunk
 * after the header in out, the rest kept for later chunks
 */
static int reply(struct ccid_engine *e, u32 slot, u32 id, const u8 *rsp,
		 u32 len, u8 *o, u32 o_size, u32 *o_len)
{
	int ret = ccid_apdu_check(e, slot, id, len);
	u32 n;

	if (ret)
		return ret;
	n = len < ccid_rsp_room(e) ? len : ccid_rsp_room(e);
	if (o && o_size >= 10 + n)
		memcpy(o + 10, rsp, n);
	if (slot < CCID_MAX_SLOTS && len > n)
		memcpy(rsp_keep[slot], rsp, len);
	return ccid_apdu_reply(e, slot, id, len, o, o_size, o_len);
}

/* The CAC ATR libcacard uses: T=0 only */
static const u8 atr_t0[] = {
	0x3b, 0x7a, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74, 0x65, 0x20, 0x63,
	0x64, 0x31, 0x34, 0x34
};

/* TA1 96, TD1 T=1, TA2 81, TD2 T=1, TA3 (IFSC) FE, TB3 41, historical
 * byte 00, TCK
 */
static const u8 atr_t1[] = {
	0x3b, 0x91, 0x96, 0x91, 0x81, 0x31, 0xfe, 0x41, 0x00, 0x99
};

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

static void setup_cfg(const struct ccid_config *cfg)
{
	free(ebuf);
	free(out);
	ebuf = malloc(ccid_engine_buf_size(cfg));
	out_size = cfg->max_msg_len;
	out = malloc(out_size);
	if (!ebuf || !out) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	ccid_engine_init(E, cfg, ebuf);
}

static void setup(u32 nslots, u32 busy, u32 max_msg_len)
{
	struct ccid_config cfg;

	ccid_config_default(&cfg);
	cfg.nslots = nslots;
	cfg.busy_slots = busy;
	if (max_msg_len)
		cfg.max_msg_len = max_msg_len;
	setup_cfg(&cfg);
}

/* Send a message of 10 + dlen bytes announcing dwlen bytes; reply length */
static u32 xmsg_len(u8 type, u32 dwlen, u8 slot, u8 seq, u8 p7, u8 p8,
		    u8 p9, const void *data, u32 dlen)
{
	u8 *m;

	/* data may point into the previous message buffer */
	next_msg_buf();
	m = msg;
	if (dlen)
		memmove(m + 10, data, dlen);
	m[0] = type;
	put_le32(m + 1, dwlen);
	m[5] = slot;
	m[6] = seq;
	m[7] = p7;
	m[8] = p8;
	m[9] = p9;
	ccid_handle_msg(E, m, 10 + dlen, out, out_size, &res);
	do_jobs();
	return res.reply_len;
}

static u32 xmsg(u8 type, u8 slot, u8 seq, u8 p7, u8 p8, u8 p9,
		const void *data, u32 dlen)
{
	return xmsg_len(type, dlen, slot, seq, p7, p8, p9, data, dlen);
}

static u32 xfr(u8 slot, u8 seq, u16 level, const void *data, u32 dlen)
{
	return xmsg(CCID_PC_XFR_BLOCK, slot, seq, 0, level & 0xff, level >> 8,
		    data, dlen);
}

static u32 simple(u8 type, u8 slot, u8 seq)
{
	return xmsg(type, slot, seq, 0, 0, 0, NULL, 0);
}

/* Reply fields */
#define R_TYPE	(out[0])
#define R_LEN	(le32(out + 1))
#define R_SLOT	(out[5])
#define R_SEQ	(out[6])
#define R_STAT	(out[7])
#define R_ERR	(out[8])
#define R_B9	(out[9])

/* Check the whole header of the last reply in one test */
static int reply_is(u32 len, u8 type, u8 slot, u8 seq, u8 stat, u8 err,
		    u8 b9, const char *what)
{
	int pass = res.reply_len == len && R_LEN + 10 == len &&
		   R_TYPE == type && R_SLOT == slot && R_SEQ == seq &&
		   R_STAT == stat && R_ERR == err && R_B9 == b9;

	ok(pass, "%s", what);
	if (!pass) {
		diag("got %u bytes: %02x len %u slot %u seq %u stat %02x err %02x b9 %02x",
		     res.reply_len, R_TYPE, R_LEN, R_SLOT, R_SEQ, R_STAT,
		     R_ERR, R_B9);
		diag("wanted %u bytes: %02x slot %u seq %u stat %02x err %02x b9 %02x",
		     len, type, slot, seq, stat, err, b9);
	}
	return pass;
}

static void insert_power(u8 slot, const u8 *atr, u32 len)
{
	ccid_card_insert(E, slot, atr, len);
	simple(CCID_PC_ICC_POWER_ON, slot, 0);
}

static void test_config(void)
{
	struct ccid_config c, d;

	ccid_config_default(&d);
	is_u(d.nslots, 1, "default: one slot");
	is_u(d.busy_slots, 1, "default: one busy slot");
	is_u(d.protocols, 3, "default: T=0 and T=1");
	is_u(d.features, CCID_FEAT_DEFAULT, "default: features");
	is_u(d.max_msg_len, 65554, "default: max message 65554");
	is_i(ccid_config_check(&d), 0, "default passes the check");

	c = d; c.nslots = 0;
	is_i(ccid_config_check(&c), -EINVAL, "0 slots refused");
	c = d; c.nslots = 17; c.busy_slots = 1;
	is_i(ccid_config_check(&c), -EINVAL, "17 slots refused");
	c = d; c.nslots = 16; c.busy_slots = 16;
	is_i(ccid_config_check(&c), 0, "16 slots, 16 busy accepted");
	c = d; c.busy_slots = 0;
	is_i(ccid_config_check(&c), -EINVAL, "0 busy slots refused");
	c = d; c.nslots = 2; c.busy_slots = 3;
	is_i(ccid_config_check(&c), -EINVAL, "busy slots > slots refused");
	c = d; c.protocols = 0;
	is_i(ccid_config_check(&c), -EINVAL, "no protocol refused");
	c = d; c.protocols = 4;
	is_i(ccid_config_check(&c), -EINVAL, "unknown protocol refused");
	c = d; c.protocols = 1;
	is_i(ccid_config_check(&c), 0, "T=0 only accepted");
	c = d; c.features = (d.features & ~CCID_FEAT_LEVEL_MASK) |
			    CCID_FEAT_LEVEL_TPDU;
	is_i(ccid_config_check(&c), -EINVAL, "TPDU level refused");
	c = d; c.features = d.features & ~CCID_FEAT_LEVEL_MASK;
	is_i(ccid_config_check(&c), -EINVAL, "character level refused");
	c = d; c.features |= CCID_FEAT_LEVEL_SHORT_APDU;
	is_i(ccid_config_check(&c), -EINVAL, "two levels refused");
	c = d; c.features = (d.features & ~CCID_FEAT_LEVEL_MASK) |
			    CCID_FEAT_LEVEL_SHORT_APDU;
	is_i(ccid_config_check(&c), 0, "short APDU level accepted");
	c = d; c.features |= 0x01;
	is_i(ccid_config_check(&c), -EINVAL, "unknown feature bit refused");
	c = d; c.features |= CCID_FEAT_USB_WAKEUP;
	is_i(ccid_config_check(&c), -EINVAL,
	     "USB remote wakeup refused: the function cannot wake the host");
	c = d; c.features |= 0x80000000;
	is_i(ccid_config_check(&c), -EINVAL, "high feature bit refused");
	c = d; c.max_msg_len = 270;
	is_i(ccid_config_check(&c), -EINVAL, "max message 270 refused");
	c = d; c.max_msg_len = 271;
	is_i(ccid_config_check(&c), 0, "max message 271 accepted");
	c = d; c.max_msg_len = 65555;
	is_i(ccid_config_check(&c), -EINVAL, "max message 65555 refused");
	is_u(ccid_engine_buf_size(&d), 65544, "buffer size, 1 slot");
	c = d; c.nslots = 16;
	is_u(ccid_engine_buf_size(&c), 16 * 65544, "buffer size, 16 slots");
}

static void test_descriptor(void)
{
	static const u8 want_default[54] = {
		54, 0x21, 0x10, 0x01, 0x00, 0x07,
		0x03, 0, 0, 0,			/* dwProtocols */
		0xfc, 0x0d, 0, 0,		/* dwDefaultClock 3580 */
		0xfc, 0x0d, 0, 0,		/* dwMaximumClock */
		1,				/* bNumClockSupported */
		0x80, 0x25, 0, 0,		/* dwDataRate 9600 */
		0x16, 0x40, 0x05, 0,		/* dwMaxDataRate 344086 */
		1,				/* bNumDataRatesSupported */
		254, 0, 0, 0,			/* dwMaxIFSD */
		0, 0, 0, 0,			/* dwSynchProtocols */
		0, 0, 0, 0,			/* dwMechanical */
		0xfe, 0x00, 0x04, 0x00,		/* dwFeatures */
		0x12, 0x00, 0x01, 0x00,		/* dwMaxCCIDMessageLength */
		0xff, 0xff,			/* bClassGetResponse, Envelope */
		0, 0,				/* wLcdLayout */
		0,				/* bPINSupport */
		1,				/* bMaxCCIDBusySlots */
	};
	struct ccid_config c;
	union {
		struct ccid_descriptor desc;
		u8 b[CCID_DESC_LEN + 1];
	} u;
	u8 *d = u.b;

	is_u(sizeof(struct ccid_descriptor), CCID_DESC_LEN,
	     "struct ccid_descriptor is 54 bytes");
	ccid_config_default(&c);
	memset(d, 0xaa, sizeof(u));
	ccid_build_class_desc(&c, &u.desc);
	ok(!memcmp(d, want_default, 54), "class descriptor, default config");
	is_u(d[54], 0xaa, "class descriptor writes 54 bytes only");

	c.nslots = 16;
	c.busy_slots = 16;
	c.protocols = CCID_PROTO_T1;
	c.max_msg_len = 271;
	ccid_build_class_desc(&c, &u.desc);
	ok(d[4] == 15 && d[53] == 16 && le32(d + 6) == 2 &&
	   le32(d + 44) == 271 && le32(d + 40) == CCID_FEAT_DEFAULT,
	   "class descriptor, 16 slots, T=1, 271 bytes");
}

static void test_framing(void)
{
	u8 h[10] = { 0x6f, 0x05, 0x00, 0x00, 0x00 };

	is_u(ccid_msg_total_len(h), 15, "total length: header + dwLength");
	put_le32(h + 1, 0xfffffff0);
	is_u(ccid_msg_total_len(h), 0xfffffffa, "total length near the top");
	put_le32(h + 1, 0xfffffff6);
	is_u(ccid_msg_total_len(h), 0xffffffff, "total length saturates");
	put_le32(h + 1, 0xffffffff);
	is_u(ccid_msg_total_len(h), 0xffffffff, "total length saturates (max)");
}

static void test_short_and_bad(void)
{
	u8 m[10] = { 0x65 }, data[262];
	u64 bad;
	u32 i;

	setup(1, 1, 0);
	bad = E->stats.bad_msgs;
	ccid_handle_msg(E, m, 9, out, out_size, &res);
	is_u(res.reply_len, 0, "9-byte message dropped");
	ccid_handle_msg(E, m, 0, out, out_size, &res);
	is_u(res.reply_len, 0, "empty message dropped");
	is_u(E->stats.bad_msgs - bad, 2, "both counted as bad");

	simple(0x00, 0, 0x11);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 0x11, 0x42, 0, 0,
		 "unknown type 0x00: SlotStatus failed, not supported");
	simple(0x64, 0, 0x12);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 0x12, 0x42, 0, 0,
		 "unknown type 0x64 (a gap in the range)");
	simple(0xff, 7, 0x13);
	reply_is(10, CCID_RDR_SLOT_STATUS, 7, 0x13, 0x42, 0, 0,
		 "unknown type 0xff on a bad slot: slot echoed");
	xmsg(0x80, 0, 0x14, 0, 0, 0, "abc", 3);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 0x14, 0x42, 0, 0,
		 "an RDR_to_PC type sent by the host");

	/* bad slot, in the reply type of each command */
	simple(CCID_PC_GET_SLOT_STATUS, 1, 0x21);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x21, 0x42, 5, 0,
		 "GetSlotStatus, slot 1 of 1: bError 5, absent");
	xfr(200, 0x22, 0, "\x00\xa4\x04\x00", 4);
	reply_is(10, CCID_RDR_DATA_BLOCK, 200, 0x22, 0x42, 5, 0,
		 "XfrBlock on slot 200: DataBlock, bError 5");
	simple(CCID_PC_GET_PARAMETERS, 1, 0x23);
	reply_is(10, CCID_RDR_PARAMETERS, 1, 0x23, 0x42, 5, 0,
		 "GetParameters on a bad slot: Parameters, bError 5");
	simple(CCID_PC_ESCAPE, 255, 0x24);
	reply_is(10, CCID_RDR_ESCAPE, 255, 0x24, 0x42, 5, 0,
		 "Escape on a bad slot: Escape, bError 5");
	xmsg(CCID_PC_SET_DATA_RATE_CLOCK, 3, 0x25, 0, 0, 0, "12345678", 8);
	reply_is(10, CCID_RDR_DATA_RATE_CLOCK, 3, 0x25, 0x42, 5, 0,
		 "SetDataRate on a bad slot: DataRateAndClock, bError 5");

	/* dwLength */
	xmsg_len(CCID_PC_XFR_BLOCK, 5, 0, 0x31, 0, 0, 0, "abcd", 4);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 0x31, 0x42, 1, 0,
		 "dwLength larger than the transfer: bError 1");
	xmsg_len(CCID_PC_XFR_BLOCK, 3, 0, 0x32, 0, 0, 0, "abcd", 4);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 0x32, 0x42, 1, 0,
		 "dwLength smaller than the transfer: bError 1");
	xmsg_len(CCID_PC_GET_SLOT_STATUS, 0xffffffff, 0, 0x33, 0, 0, 0,
		 NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 0x33, 0x42, 1, 0,
		 "dwLength 0xffffffff: bError 1");
	simple(CCID_PC_GET_SLOT_STATUS, 0, 0x34);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 0x34, 0x02, 0, 0,
		 "GetSlotStatus on an empty slot: ok, absent");

	/* a transfer longer than dwMaxCCIDMessageLength */
	setup(1, 1, 271);
	ccid_card_insert(E, 0, atr_t0, sizeof(atr_t0));
	simple(CCID_PC_ICC_POWER_ON, 0, 0);
	for (i = 0; i < sizeof(data); i++)
		data[i] = i;
	xfr(0, 0x35, 0, data, 261);
	ok(res.reply_len == 0 && (res.events & CCID_EV_APDU),
	   "261 data bytes with max 271: delivered");
	reply(E, 0, res.id, (const u8 *)"\x90\x00", 2, out,
			out_size, &i);
	xfr(0, 0x36, 0, data, 262);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 0x36, 0x40, 1, 0,
		 "262 data bytes with max 271: bError 1");
	is_u(E->nbusy, 0, "and nothing pending");

	/* caller bugs are refused without touching memory */
	ccid_handle_msg(E, msg, 10, out, CCID_SMALL_REPLY_MAX - 1, &res);
	is_u(res.reply_len, 0, "out_size below CCID_SMALL_REPLY_MAX: no reply");
}

static void test_power(void)
{
	u64 bad;
	u32 i;

	setup(1, 1, 0);
	simple(CCID_PC_ICC_POWER_ON, 0, 1);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 1, 0x42, CCID_ERR_ICC_MUTE, 0,
		 "PowerOn without card: ICC mute, absent");
	ok(!res.events, "no event");

	is_i(ccid_card_insert(E, 0, atr_t0, 1), -EINVAL, "1-byte ATR refused");
	is_i(ccid_card_insert(E, 0, atr_t0, 34), -EINVAL,
	     "34-byte ATR refused");
	is_i(ccid_card_insert(E, 0, (const u8 *)"\x3c\x00", 2), -EINVAL,
	     "TS 3C refused");
	is_i(ccid_card_insert(E, 1, atr_t0, sizeof(atr_t0)), -EINVAL,
	     "insert in slot 1 of 1 refused");
	is_i(ccid_card_insert(E, 0, atr_t0, sizeof(atr_t0)), 0, "insert");
	is_i(ccid_card_insert(E, 0, atr_t0, sizeof(atr_t0)), -EEXIST,
	     "second insert: -EEXIST");

	simple(CCID_PC_GET_SLOT_STATUS, 0, 2);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 2, 0x01, 0, 0,
		 "GetSlotStatus: present, inactive");
	xfr(0, 3, 0, "\x00\xa4\x04\x00", 4);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 3, 0x41, CCID_ERR_ICC_MUTE, 0,
		 "XfrBlock on an unpowered card: ICC mute, inactive");

	bad = E->stats.bad_msgs;
	xmsg(CCID_PC_ICC_POWER_ON, 0, 4, 4, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 4, 0x41, 7, 0,
		 "bPowerSelect 4: bError 7");
	xmsg(CCID_PC_ICC_POWER_ON, 0, 5, 0, 0, 0, "x", 1);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 5, 0x41, 1, 0,
		 "PowerOn with data: bError 1");
	is_u(E->stats.bad_msgs - bad, 2, "both counted as bad");

	for (i = 0; i <= 3; i++) {
		xmsg(CCID_PC_ICC_POWER_ON, 0, 6 + i, i, 0, 0, NULL, 0);
		ok(reply_is(10 + sizeof(atr_t0), CCID_RDR_DATA_BLOCK, 0,
			    6 + i, 0x00, 0, 0, "PowerOn: DataBlock") &&
		   !memcmp(out + 10, atr_t0, sizeof(atr_t0)) &&
		   res.events == CCID_EV_POWER_ON && res.slot == 0,
		   "bPowerSelect %u: ATR, POWER_ON event%s", i,
		   i ? " (warm reset)" : "");
	}
	simple(CCID_PC_GET_SLOT_STATUS, 0, 10);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 10, 0x00, 0, 0,
		 "GetSlotStatus: active, clock running");

	simple(CCID_PC_ICC_POWER_OFF, 0, 11);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 11, 0x01, 0, 0,
		 "PowerOff: SlotStatus, inactive");
	is_u(res.events, CCID_EV_POWER_OFF, "PowerOff: POWER_OFF event");
	simple(CCID_PC_ICC_POWER_OFF, 0, 12);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 12, 0x01, 0, 0,
		 "PowerOff again: SlotStatus");
	is_u(res.events, 0, "no event the second time");
	xmsg(CCID_PC_ICC_POWER_OFF, 0, 13, 0, 0, 0, "zz", 2);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 13, 0x41, 1, 0,
		 "PowerOff with data: bError 1");

	is_i(ccid_card_remove(E, 1, out, out_size, &i, &i), -EINVAL,
	     "remove from a bad slot");
	{
		u32 len = 99, id = 99;

		is_i(ccid_card_remove(E, 0, out, out_size, &len, &id), 0,
		     "remove");
		ok(len == 0 && id == 0, "remove, nothing pending: no reply");
		is_i(ccid_card_remove(E, 0, out, out_size, &len, &id),
		     -ENOENT, "remove from an empty slot: -ENOENT");
	}
	simple(CCID_PC_GET_SLOT_STATUS, 0, 14);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 14, 0x02, 0, 0,
		 "GetSlotStatus after removal: absent");
	xfr(0, 15, 0, "\x00\xa4\x04\x00", 4);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 15, 0x42, CCID_ERR_ICC_MUTE, 0,
		 "XfrBlock without card: ICC mute, absent");
}

static void test_xfr_simple(void)
{
	static const u8 apdu[] = { 0x00, 0xa4, 0x04, 0x00, 0x02, 0x3f, 0x00 };
	const u8 *p = NULL;
	u32 id, len;
	u64 msgs_out;

	setup(1, 1, 0);
	insert_power(0, atr_t0, sizeof(atr_t0));
	msgs_out = E->stats.msgs_out;
	xfr(0, 0x40, 0, apdu, sizeof(apdu));
	ok(res.reply_len == 0 &&
	   res.events == (CCID_EV_APDU | CCID_EV_APDU_IN_MSG) && res.id &&
	   res.slot == 0,
	   "XfrBlock: no reply, APDU event with an id, the APDU in the message");
	id = res.id;
	is_u(E->stats.msgs_out, msgs_out, "nothing sent");
	is_i(ccid_pending_apdu(E, 0, id, &p), sizeof(apdu),
	     "pending APDU length");
	ok(p && !memcmp(p, apdu, sizeof(apdu)), "pending APDU bytes");
	is_i(ccid_pending_apdu(E, 0, id + 1, &p), -ESTALE,
	     "pending_apdu, wrong id");
	is_i(ccid_pending_apdu(E, 1, id, &p), -ESTALE,
	     "pending_apdu, bad slot");
	is_i(ccid_pending_apdu(E, 0, 0, &p), -ESTALE, "pending_apdu, id 0");
	is_u(E->nbusy, 1, "one busy slot");

	simple(CCID_PC_GET_SLOT_STATUS, 0, 0x41);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 0x41, 0x40,
		 CCID_ERR_CMD_SLOT_BUSY, 0, "GetSlotStatus while busy: E0");
	xfr(0, 0x42, 0, apdu, sizeof(apdu));
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 0x42, 0x40,
		 CCID_ERR_CMD_SLOT_BUSY, 0, "XfrBlock while busy: E0");
	simple(CCID_PC_ICC_POWER_ON, 0, 0x43);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 0x43, 0x40,
		 CCID_ERR_CMD_SLOT_BUSY, 0, "PowerOn while busy: E0");
	is_i(ccid_pending_apdu(E, 0, id, &p), sizeof(apdu),
	     "still pending after the refusals");

	is_i(reply(E, 0, id, (const u8 *)"\x90", 1, out, out_size,
			     &len), -EINVAL, "1-byte response refused");
	is_i(reply(E, 0, id, msg, CCID_MAX_RSP_APDU + 1, out,
			     out_size, &len), -EINVAL,
	     "oversized response refused");
	is_i(reply(E, 1, id, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), -EINVAL,
	     "response for slot 1 of 1 refused");
	is_i(reply(E, 0, id + 1, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), -ESTALE,
	     "response for an unknown id: -ESTALE");
	is_i(reply(E, 0, id, (const u8 *)"\x6f\x00\x90\x00", 4, out,
			     out_size, &len), 0, "response accepted");
	res.reply_len = len;
	reply_is(14, CCID_RDR_DATA_BLOCK, 0, 0x40, 0x00, 0, 0,
		 "DataBlock with the command's bSeq, chain 0");
	ok(!memcmp(out + 10, "\x6f\x00\x90\x00", 4), "response bytes");
	is_u(E->nbusy, 0, "no busy slot");
	is_i(reply(E, 0, id, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), -ESTALE,
	     "second response for the same id: -ESTALE");
	is_i(ccid_pending_apdu(E, 0, id, &p), -ESTALE,
	     "answered APDU no longer pending");

	xfr(0, 0x44, 0, NULL, 0);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 0x44, 0x40, 1, 0,
		 "empty XfrBlock, level 0: bError 1");

	/* apdu_fail */
	xfr(0, 0x45, 0, apdu, 4);
	id = res.id;
	is_i(ccid_apdu_fail(E, 0, id + 7, CCID_ERR_ICC_MUTE, out, out_size,
			    &len), -ESTALE, "apdu_fail for a wrong id");
	is_i(ccid_apdu_fail(E, 0, id, CCID_ERR_ICC_MUTE, out, out_size, &len),
	     0, "apdu_fail");
	res.reply_len = len;
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 0x45, 0x40, CCID_ERR_ICC_MUTE, 0,
		 "apdu_fail: DataBlock failed with the bError given");
	is_i(reply(E, 0, id, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), -ESTALE,
	     "response after apdu_fail: -ESTALE");
	is_u(E->nbusy, 0, "no busy slot after apdu_fail");
}

static void test_ids(void)
{
	u32 i, id, prev = 0, len;
	int increasing = 1;

	setup(1, 1, 0);
	insert_power(0, atr_t0, sizeof(atr_t0));
	for (i = 0; i < 100; i++) {
		xfr(0, i, 0, "\x00\xb0\x00\x00\x00", 5);
		id = res.id;
		if (!id || id <= prev)
			increasing = 0;
		prev = id;
		reply(E, 0, id, (const u8 *)"\x90\x00", 2, out,
				out_size, &len);
	}
	ok(increasing, "100 ids: non-zero, increasing");
	E->next_id = 0xffffffff;
	xfr(0, 1, 0, "\x00\xb0\x00\x00\x00", 5);
	is_u(res.id, 0xffffffff, "id 0xffffffff");
	reply(E, 0, res.id, (const u8 *)"\x90\x00", 2, out,
			out_size, &len);
	xfr(0, 2, 0, "\x00\xb0\x00\x00\x00", 5);
	is_u(res.id, 1, "wraps to 1, never 0");
	reply(E, 0, res.id, (const u8 *)"\x90\x00", 2, out,
			out_size, &len);

	/* an id still pending on another slot is skipped */
	setup(2, 2, 0);
	insert_power(0, atr_t0, sizeof(atr_t0));
	insert_power(1, atr_t0, sizeof(atr_t0));
	xfr(0, 1, 0, "\x00\xb0\x00\x00\x00", 5);
	id = res.id;
	E->next_id = id;
	xfr(1, 1, 0, "\x00\xb0\x00\x00\x00", 5);
	ok(res.id && res.id != id, "a pending id is never reused");
}

/*
 * libccid's CmdXfrBlockAPDU_extended, as far as the wire is concerned:
 * split the command, read the empty DataBlocks, then pull a chained
 * response with empty XfrBlocks (wLevelParameter 0x10). The daemon's
 * answer is rsp/rsp_len. Returns the number of bytes received into got,
 * or -1 on a protocol error.
 */
static long host_exchange(const u8 *cmd, u32 cmd_len, const u8 *rsp,
			  u32 rsp_len, u8 *got, u32 got_size,
			  u32 *nmsgs, u32 *nreplies)
{
	u32 chunk = E->cfg.max_msg_len - 10;
	u32 sent = 0, n, received = 0, len, id;
	u8 seq = 0, chain = 0;
	const u8 *p;

	*nmsgs = 0;
	*nreplies = 0;
	if (chunk > 65546)
		chunk = 65546;
	n = cmd_len;
	if (n > chunk) {
		n = chunk;
		chain = 1;
	}
	for (;;) {
		xfr(0, seq++, chain, cmd + sent, n);
		(*nmsgs)++;
		sent += n;
		if (chain == 0 || chain == 2)
			break;
		/* the null block */
		if (res.reply_len != 10 || R_TYPE != CCID_RDR_DATA_BLOCK ||
		    R_STAT != 0 || R_B9 != 0x10 || R_LEN != 0)
			return -1;
		if (cmd_len - sent > n) {
			chain = 3;
		} else {
			chain = 2;
			n = cmd_len - sent;
		}
	}
	if (res.reply_len || !(res.events & CCID_EV_APDU))
		return -1;
	id = res.id;
	if (ccid_pending_apdu(E, 0, id, &p) != (int)cmd_len ||
	    memcmp(p, cmd, cmd_len))
		return -1;
	if (reply(E, 0, id, rsp, rsp_len, out, out_size, &len))
		return -1;
	res.reply_len = len;
	for (;;) {
		(*nreplies)++;
		if (res.reply_len < 10 || R_TYPE != CCID_RDR_DATA_BLOCK ||
		    R_STAT != 0 || R_LEN + 10 != res.reply_len ||
		    res.reply_len > out_size)
			return -1;
		if (received + R_LEN > got_size)
			return -1;
		memcpy(got + received, out + 10, R_LEN);
		received += R_LEN;
		if (R_B9 == 0 || R_B9 == 2)
			break;
		if (R_B9 != 1 && R_B9 != 3)
			return -1;
		xfr(0, seq++, 0x10, NULL, 0);
		(*nmsgs)++;
	}
	return received;
}

static void test_chaining(u32 max)
{
	u32 max_msg_len = max ? max : CCID_MAX_MSG_LEN;
	u32 cmd_len = 4 + 3 + 65535 + 2, rsp_len = 65536 + 2;
	u8 *cmd = malloc(cmd_len), *rsp = malloc(rsp_len);
	u8 *got = malloc(rsp_len + 16);
	u32 i, nm, nr, chunk, len;
	long r;

	setup(1, 1, max);
	chunk = E->cfg.max_msg_len - 10;
	insert_power(0, atr_t0, sizeof(atr_t0));
	/* extended case 4: Lc = 00 FF FF, Le = 00 00 */
	cmd[0] = 0x00; cmd[1] = 0x2a; cmd[2] = 0x80; cmd[3] = 0x86;
	cmd[4] = 0x00; cmd[5] = 0xff; cmd[6] = 0xff;
	for (i = 7; i < cmd_len - 2; i++)
		cmd[i] = i * 7 + 3;
	cmd[cmd_len - 2] = 0;
	cmd[cmd_len - 1] = 0;
	for (i = 0; i < rsp_len - 2; i++)
		rsp[i] = i * 13 + 5;
	rsp[rsp_len - 2] = 0x90;
	rsp[rsp_len - 1] = 0x00;

	r = host_exchange(cmd, cmd_len, rsp, rsp_len, got, rsp_len + 16,
			  &nm, &nr);
	ok(r == (long)rsp_len && !memcmp(got, rsp, rsp_len),
	   "max %u: 65,535-byte command data, 65,536-byte response + SW",
	   max_msg_len);
	diag("max %u: %u messages, %u replies", E->cfg.max_msg_len, nm, nr);
	if (chunk >= cmd_len)
		is_u(nm, 1, "max %u: the command in one message",
		     max_msg_len);
	else
		is_u(nm, (cmd_len + chunk - 1) / chunk +
			 (rsp_len + chunk - 1) / chunk - 1,
		     "max %u: command and response chained", max_msg_len);
	is_u(nr, (rsp_len + chunk - 1) / chunk,
	     "max %u: response in %u DataBlocks", max_msg_len,
	     (rsp_len + chunk - 1) / chunk);

	/* response of exactly one chunk, and one byte more */
	if (chunk < rsp_len) {
		r = host_exchange(cmd, 5, rsp, chunk, got, rsp_len, &nm, &nr);
		ok(r == (long)chunk && nr == 1 && R_B9 == 0,
		   "max %u: response of exactly %u bytes, not chained",
		   max_msg_len, chunk);
		r = host_exchange(cmd, 5, rsp, chunk + 1, got, rsp_len, &nm,
				  &nr);
		ok(r == (long)chunk + 1 && nr == 2 && R_B9 == 2 &&
		   R_LEN == 1 && !memcmp(got, rsp, chunk + 1),
		   "max %u: %u bytes: chain 1 then 2 with one byte",
		   max_msg_len, chunk + 1);
		/* command of exactly one chunk, and one more */
		r = host_exchange(cmd, chunk, rsp, 2, got, rsp_len, &nm, &nr);
		ok(r == 2 && nm == 1, "max %u: %u-byte command in one message",
		   max_msg_len, chunk);
		r = host_exchange(cmd, chunk + 1, rsp, 2, got, rsp_len, &nm,
				  &nr);
		ok(r == 2 && nm == 2, "max %u: %u-byte command in two",
		   max_msg_len, chunk + 1);
	}

	/* a chained command abandoned for a new command */
	if (chunk < cmd_len) {
		xfr(0, 1, 1, cmd, chunk);
		xfr(0, 2, 0, cmd, 5);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 2, 0x40, 8, 0,
			 "new command mid command chain: bError 8");
		xfr(0, 3, 2, cmd, 5);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 3, 0x40, 8, 0,
			 "and the chain was reset");
		/* a response chain abandoned */
		xfr(0, 4, 0, cmd, 5);
		reply(E, 0, res.id, rsp, chunk * 2, out, out_size,
				&len);
		ok(len == out_size && out[9] == 1, "response chain started");
		xfr(0, 5, 0, cmd, 5);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 5, 0x40, 8, 0,
			 "new command mid response chain: bError 8");
		xfr(0, 6, 0x10, NULL, 0);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 6, 0x40, 8, 0,
			 "and the response chain was dropped");
		/* 0x10 with data */
		xfr(0, 7, 0, cmd, 5);
		reply(E, 0, res.id, rsp, chunk * 2, out, out_size,
				&len);
		xfr(0, 8, 0x10, cmd, 1);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 8, 0x40, 1, 0,
			 "0x10 with data: bError 1");
		xfr(0, 9, 0x10, NULL, 0);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 9, 0x40, 8, 0,
			 "and the response chain was dropped");
		/* overrun: 65544 bytes then one more */
		xfr(0, 10, 1, cmd, chunk);
		for (i = chunk; i + chunk <= 65544; i += chunk)
			xfr(0, 11, 3, cmd, chunk);
		xfr(0, 12, 3, cmd, 65544 - i);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 12, 0x00, 0, 0x10,
			 "65,544 bytes assembled");
		xfr(0, 13, 2, cmd, 1);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 13, 0x40,
			 CCID_ERR_XFR_OVERRUN, 0,
			 "one byte more: XFR_OVERRUN");
		xfr(0, 14, 2, cmd, 1);
		reply_is(10, CCID_RDR_DATA_BLOCK, 0, 14, 0x40, 8, 0,
			 "and the chain was reset");
		is_u(E->nbusy, 0, "nothing pending after the errors");
	}
	free(cmd);
	free(rsp);
	free(got);
}

static void test_chain_errors(void)
{
	u64 bad;

	setup(1, 1, 271);
	insert_power(0, atr_t0, sizeof(atr_t0));
	bad = E->stats.bad_msgs;
	xfr(0, 1, 2, "\x00\xa4", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 1, 0x40, 8, 0,
		 "level 2 without a chain: bError 8");
	xfr(0, 2, 3, "\x00\xa4", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 2, 0x40, 8, 0,
		 "level 3 without a chain: bError 8");
	xfr(0, 3, 0x10, NULL, 0);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 3, 0x40, 8, 0,
		 "level 0x10 without a response: bError 8");
	xfr(0, 4, 5, "\x00\xa4", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 4, 0x40, 8, 0,
		 "level 5: bError 8");
	xfr(0, 5, 0x100, "\x00\xa4", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 5, 0x40, 8, 0,
		 "level 0x100: bError 8");
	xfr(0, 6, 1, NULL, 0);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 6, 0x40, 1, 0,
		 "empty level 1: bError 1");
	xfr(0, 7, 1, "\x00\xa4", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 7, 0x00, 0, 0x10,
		 "level 1: empty DataBlock, chain 0x10");
	xfr(0, 8, 1, "\x00\xa4", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 8, 0x40, 8, 0,
		 "level 1 twice: bError 8");
	xfr(0, 9, 0x10, NULL, 0);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 9, 0x40, 8, 0,
		 "0x10 with no response: bError 8");
	is_u(E->stats.bad_msgs - bad, 8, "each error counted as bad");
	/* a chain, then a power cycle */
	xfr(0, 10, 1, "\x00\xa4", 2);
	simple(CCID_PC_ICC_POWER_ON, 0, 11);
	xfr(0, 12, 2, "\x04\x00", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 12, 0x40, 8, 0,
		 "a warm reset drops the command chain");
	xfr(0, 13, 1, "\x00\xa4", 2);
	xfr(0, 14, 3, NULL, 0);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 14, 0x00, 0, 0x10,
		 "empty level 3 accepted");
	xfr(0, 15, 2, "\x04\x00", 2);
	ok(res.reply_len == 0 && (res.events & CCID_EV_APDU),
	   "level 2 delivers");
	{
		const u8 *p;

		ok(ccid_pending_apdu(E, 0, res.id, &p) == 4 &&
		   !memcmp(p, "\x00\xa4\x04\x00", 4), "assembled APDU");
	}
}

static void test_busy_slots(void)
{
	u32 id0, id1, len, i;
	const u8 *p;

	setup(2, 1, 0);
	insert_power(0, atr_t0, sizeof(atr_t0));
	insert_power(1, atr_t1, sizeof(atr_t1));
	xfr(0, 1, 0, "\x00\xb0\x00\x00\x00", 5);
	id0 = res.id;
	xfr(1, 2, 0, "\x00\xb0\x00\x00\x00", 5);
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 2, 0x40, CCID_ERR_CMD_SLOT_BUSY,
		 0, "busy_slots 1: a second slot's APDU gets E0");
	simple(CCID_PC_GET_SLOT_STATUS, 1, 3);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 3, 0x00, 0, 0,
		 "but its GetSlotStatus is answered");
	xfr(1, 4, 1, "\x00\xb0", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 4, 0x40, CCID_ERR_CMD_SLOT_BUSY,
		 0, "and a chain start gets E0 too");
	reply(E, 0, id0, (const u8 *)"\x90\x00", 2, out, out_size,
			&len);
	xfr(1, 5, 0, "\x00\xb0\x00\x00\x00", 5);
	ok(res.events & CCID_EV_APDU, "after the answer slot 1 may go");

	setup(2, 2, 0);
	insert_power(0, atr_t0, sizeof(atr_t0));
	insert_power(1, atr_t1, sizeof(atr_t1));
	xfr(0, 1, 0, "\x00\xb0\x00\x00\x01", 5);
	id0 = res.id;
	xfr(1, 2, 0, "\x00\xb0\x00\x00\x02", 5);
	id1 = res.id;
	ok(id0 && id1 && id0 != id1, "busy_slots 2: both delivered");
	is_u(E->nbusy, 2, "two busy slots");
	ok(ccid_pending_apdu(E, 0, id0, &p) == 5 && p[4] == 1 &&
	   ccid_pending_apdu(E, 1, id1, &p) == 5 && p[4] == 2 &&
	   ccid_pending_apdu(E, 0, id1, &p) == -ESTALE,
	   "each slot has its own APDU");
	reply(E, 1, id1, (const u8 *)"\x62\x83", 2, out, out_size,
			&len);
	ok(out[5] == 1 && out[6] == 2 && out[10] == 0x62,
	   "slot 1 answered first");
	reply(E, 0, id0, (const u8 *)"\x90\x00", 2, out, out_size,
			&len);
	ok(out[5] == 0 && out[6] == 1 && out[10] == 0x90, "then slot 0");

	/* 16 slots, all busy */
	setup(16, 16, 0);
	for (i = 0; i < 16; i++)
		insert_power(i, atr_t0, sizeof(atr_t0));
	for (i = 0; i < 16; i++)
		xfr(i, i, 0, "\x00\xb0\x00\x00\x00", 5);
	is_u(E->nbusy, 16, "16 slots busy at once");
	{
		struct ccidg_status st;
		int all = 1;

		ccid_get_status(E, &st);
		for (i = 0; i < 16; i++)
			all &= st.busy[i] == 1 &&
			       st.state[i] == CCIDG_SLOT_POWERED;
		ok(st.nslots == 16 && all, "get_status: 16 powered, busy");
	}
	ccid_host_reset(E);
	is_u(E->nbusy, 0, "host reset: nothing busy");
	{
		struct ccidg_status st;
		int all = 1;

		ccid_get_status(E, &st);
		for (i = 0; i < 16; i++)
			all &= st.busy[i] == 0 &&
			       st.state[i] == CCIDG_SLOT_PRESENT;
		ok(all, "host reset: cards present, unpowered");
	}
	ok(reply(E, 3, 4, (const u8 *)"\x90\x00", 2, out, out_size,
			   &len) == -ESTALE, "host reset: ids stale");
}

static void test_time_extension(void)
{
	u32 len = 0, id;
	u64 te;

	setup(2, 2, 0);
	insert_power(1, atr_t0, sizeof(atr_t0));
	is_i(ccid_time_extension(E, 1, 1, out, out_size, &len), -ENOENT,
	     "time extension with nothing pending: -ENOENT");
	is_i(ccid_time_extension(E, 2, 1, out, out_size, &len), -EINVAL,
	     "time extension on a bad slot: -EINVAL");
	xfr(1, 0x77, 0, "\x00\x46\x00\x00\x00", 5);
	id = res.id;
	te = E->stats.time_ext;
	is_i(ccid_time_extension(E, 1, 5, out, out_size, &len), 0,
	     "time extension");
	res.reply_len = len;
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 0x77, 0x80, 5, 0,
		 "DataBlock, status 0x80, bError = multiplier, bSeq kept");
	is_u(E->stats.time_ext - te, 1, "counted");
	ccid_time_extension(E, 1, 1, out, out_size, &len);
	is_i(reply(E, 1, id, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), 0,
	     "the answer after time extensions");
	is_u(out[6], 0x77, "with the command's bSeq");
}

static void test_abort(void)
{
	u32 id, len, aid;
	u64 aborts;
	const u8 *p;

	setup(2, 2, 0);
	insert_power(1, atr_t0, sizeof(atr_t0));
	is_i(ccid_class_abort(E, 0x0502, out, out_size, &res), -EINVAL,
	     "class ABORT on slot 2 of 2: -EINVAL");

	/* class request, then PC_to_RDR_Abort */
	xfr(1, 0x10, 0, "\x00\x46\x00\x00\x00", 5);
	id = res.id;
	aborts = E->stats.aborts;
	is_i(ccid_class_abort(E, 0x1101, out, out_size, &res), 0,
	     "class ABORT, bSeq 0x11, slot 1");
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 0x10, 0x40, CCID_ERR_CMD_ABORTED,
		 0, "the pending command answered CMD_ABORTED, its bSeq");
	ok(res.events == CCID_EV_ABORT && res.abort_id == id && res.slot == 1,
	   "ABORT event with the id");
	is_u(E->stats.aborts - aborts, 1, "counted as aborted");
	is_u(E->nbusy, 0, "slot no longer busy");
	is_i(reply(E, 1, id, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), -ESTALE,
	     "a reply for the aborted id: -ESTALE");
	is_i(ccid_pending_apdu(E, 1, id, &p), -ESTALE, "not pending");
	simple(CCID_PC_GET_SLOT_STATUS, 1, 0x12);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x12, 0x40, CCID_ERR_CMD_ABORTED,
		 0, "while aborting: GetSlotStatus gets CMD_ABORTED");
	xfr(1, 0x13, 0, "\x00\x46\x00\x00\x00", 5);
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 0x13, 0x40, CCID_ERR_CMD_ABORTED,
		 0, "while aborting: XfrBlock gets CMD_ABORTED");
	simple(CCID_PC_GET_SLOT_STATUS, 0, 0x14);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 0x14, 0x02, 0, 0,
		 "the other slot is not affected");
	simple(CCID_PC_ABORT, 1, 0x15);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x15, 0x40, CCID_ERR_CMD_ABORTED,
		 0, "PC_to_RDR_Abort with another bSeq: CMD_ABORTED");
	simple(CCID_PC_ABORT, 1, 0x11);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x11, 0x00, 0, 0,
		 "PC_to_RDR_Abort with the bSeq: SlotStatus ok");
	simple(CCID_PC_GET_SLOT_STATUS, 1, 0x16);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x16, 0x00, 0, 0,
		 "the slot works again");

	/* class request with nothing pending */
	is_i(ccid_class_abort(E, 0x2001, out, out_size, &res), 0,
	     "class ABORT with nothing pending");
	ok(res.reply_len == 0 && res.events == 0, "no reply, no event");
	xmsg(CCID_PC_ABORT, 1, 0x20, 0, 0, 0, "x", 1);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x20, 0x40, 1, 0,
		 "PC_to_RDR_Abort with data: bError 1");
	simple(CCID_PC_ABORT, 1, 0x20);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x20, 0x00, 0, 0,
		 "then the proper one ends the abort");

	/* PC_to_RDR_Abort first, class request later */
	xfr(1, 0x30, 0, "\x00\x46\x00\x00\x00", 5);
	id = res.id;
	simple(CCID_PC_ABORT, 1, 0x31);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x31, 0x00, 0, 0,
		 "PC_to_RDR_Abort without class request: SlotStatus ok");
	ok(res.events == CCID_EV_ABORT && res.abort_id == id,
	   "and the pending command cancelled");
	is_i(reply(E, 1, id, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), -ESTALE, "its id is stale");
	is_i(ccid_class_abort(E, 0x3101, out, out_size, &res), 0,
	     "the late class request");
	ok(res.reply_len == 0 && res.events == 0, "does nothing more");
	simple(CCID_PC_GET_SLOT_STATUS, 1, 0x32);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x32, 0x00, 0, 0,
		 "and leaves the slot usable");

	/* PowerOff cancels a pending command */
	xfr(1, 0x40, 0, "\x00\x46\x00\x00\x00", 5);
	id = res.id;
	simple(CCID_PC_ICC_POWER_OFF, 1, 0x41);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 0x41, 0x01, 0, 0,
		 "PowerOff while busy: SlotStatus ok, inactive");
	ok(res.events == (CCID_EV_ABORT | CCID_EV_POWER_OFF) &&
	   res.abort_id == id, "ABORT and POWER_OFF events");
	is_u(E->nbusy, 0, "slot no longer busy");

	/* card removal with a pending command */
	simple(CCID_PC_ICC_POWER_ON, 1, 0x50);
	xfr(1, 0x51, 0, "\x00\x46\x00\x00\x00", 5);
	id = res.id;
	is_i(ccid_card_remove(E, 1, out, out_size, &len, &aid), 0,
	     "remove with a command pending");
	res.reply_len = len;
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 0x51, 0x42, CCID_ERR_ICC_MUTE, 0,
		 "the command answered ICC mute, absent");
	is_u(aid, id, "its id returned");
	is_i(reply(E, 1, id, (const u8 *)"\x90\x00", 2, out,
			     out_size, &len), -ESTALE, "and stale");
	is_u(E->nbusy, 0, "nothing busy");
}

static void test_notify(void)
{
	u8 n[CCID_NOTIFY_MAX_LEN + 4], n2[CCID_NOTIFY_MAX_LEN + 4];
	u32 len, i, aid;
	u64 cnt;

	setup(16, 16, 0);
	is_u(ccid_build_notify(E, n, sizeof(n)), 0, "no change: no notify");
	len = ccid_build_notify_all(E, n, sizeof(n));
	ok(len == 5 && n[0] == 0x50 && !n[1] && !n[2] && !n[3] && !n[4],
	   "notify_all, 16 empty slots: 5 bytes, all clear");
	for (i = 0; i < 16; i += 3)	/* 0 3 6 9 12 15 */
		ccid_card_insert(E, i, atr_t0, sizeof(atr_t0));
	is_u(ccid_build_notify(E, n, 4), 0, "4-byte buffer too small");
	cnt = E->stats.notify;
	len = ccid_build_notify(E, n, sizeof(n));
	/* slot s: byte 1 + s/4, bits 2*(s%4): 0 -> 03, 3 -> c0,
	 * 6 -> byte 2 bits 4-5 (30), 9 -> byte 3 bits 2-3 (0c),
	 * 12 -> byte 4 bits 0-1 (03), 15 -> byte 4 bits 6-7 (c0)
	 */
	ok(len == 5 && n[0] == 0x50 && n[1] == 0xc3 && n[2] == 0x30 &&
	   n[3] == 0x0c && n[4] == 0xc3,
	   "inserts in slots 0,3,6,9,12,15: present+changed bits");
	diag("notify %02x %02x %02x %02x %02x", n[0], n[1], n[2], n[3], n[4]);
	is_u(E->stats.notify - cnt, 1, "notify counted");
	is_u(ccid_build_notify(E, n, sizeof(n)), 0, "flags cleared");
	ccid_card_remove(E, 6, out, out_size, &len, &aid);
	len = ccid_build_notify(E, n, sizeof(n));
	ok(len == 5 && n[1] == 0x41 && n[2] == 0x20 && n[3] == 0x04 &&
	   n[4] == 0x41, "removal of slot 6: changed, not present");
	len = ccid_build_notify_all(E, n, sizeof(n));
	ok(len == 5 && n[1] == 0xc3 && n[2] == 0x00 && n[3] == 0x0c &&
	   n[4] == 0xc3, "notify_all: every present card marked changed");
	/* insert and remove between two notifications */
	ccid_card_insert(E, 1, atr_t0, sizeof(atr_t0));
	ccid_card_remove(E, 1, out, out_size, &len, &aid);
	len = ccid_build_notify(E, n, sizeof(n));
	ok(len == 5 && n[1] == 0x49, "insert+remove: changed, absent");
	/* a message the host never took: its slots are reported again */
	memcpy(n2, n, len);
	ccid_notify_again(E, n, len);
	is_u(ccid_build_notify(E, n, sizeof(n)), 5,
	     "taken back: the next notify has it again");
	ok(!memcmp(n, n2, 5), "... the same message: slot 1 changed, no other");
	ccid_notify_again(E, n, 1);
	ccid_notify_again(E, NULL, 5);
	n[0] = 0x81;
	ccid_notify_again(E, n, 5);
	is_u(ccid_build_notify(E, n, sizeof(n)), 0,
	     "a short, absent or foreign message marks nothing");

	setup(1, 1, 0);
	ccid_card_insert(E, 0, atr_t0, sizeof(atr_t0));
	len = ccid_build_notify(E, n, sizeof(n));
	ok(len == 2 && n[0] == 0x50 && n[1] == 0x03, "one slot: 2 bytes");
	setup(5, 1, 0);
	ccid_card_insert(E, 4, atr_t0, sizeof(atr_t0));
	len = ccid_build_notify(E, n, sizeof(n));
	ok(len == 3 && n[1] == 0 && n[2] == 0x03, "five slots: 3 bytes");
}

static void test_parameters(void)
{
	static const u8 t1p[7] = { 0x18, 0x11, 0x02, 0x45, 0x00, 0xfe, 0x00 };
	static const u8 t0p[5] = { 0x96, 0x02, 0x01, 0x20, 0x03 };
	struct ccid_config c;
	u8 bad[7];

	setup(1, 1, 0);
	simple(CCID_PC_GET_PARAMETERS, 0, 1);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 1, 0x42, CCID_ERR_ICC_MUTE, 0,
		 "GetParameters without card: ICC mute");
	ccid_card_insert(E, 0, atr_t0, sizeof(atr_t0));
	simple(CCID_PC_GET_PARAMETERS, 0, 2);
	ok(reply_is(15, CCID_RDR_PARAMETERS, 0, 2, 0x01, 0, 0,
		    "GetParameters, T=0 card, unpowered") &&
	   !memcmp(out + 10, "\x11\x00\x00\x0a\x00", 5),
	   "T=0 defaults 11 00 00 0a 00");
	simple(CCID_PC_ICC_POWER_ON, 0, 3);
	xmsg(CCID_PC_SET_PARAMETERS, 0, 4, 0, 0, 0, t0p, 5);
	ok(reply_is(15, CCID_RDR_PARAMETERS, 0, 4, 0x00, 0, 0,
		    "SetParameters T=0") && !memcmp(out + 10, t0p, 5),
	   "stored and echoed");
	simple(CCID_PC_GET_PARAMETERS, 0, 5);
	ok(res.reply_len == 15 && !memcmp(out + 10, t0p, 5),
	   "GetParameters returns them");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 6, 1, 0, 0, t1p, 7);
	ok(reply_is(17, CCID_RDR_PARAMETERS, 0, 6, 0x00, 0, 1,
		    "SetParameters T=1") && !memcmp(out + 10, t1p, 7),
	   "T=1 stored, bProtocolNum 1");
	simple(CCID_PC_RESET_PARAMETERS, 0, 7);
	ok(reply_is(15, CCID_RDR_PARAMETERS, 0, 7, 0x00, 0, 0,
		    "ResetParameters") &&
	   !memcmp(out + 10, "\x11\x00\x00\x0a\x00", 5),
	   "back to the card's T=0 defaults");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 8, 2, 0, 0, t1p, 7);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 8, 0x40, 7, 0,
		 "bProtocolNum 2: bError 7");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 9, 0, 0, 0, t1p, 7);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 9, 0x40, 1, 0,
		 "T=0 with 7 bytes: bError 1");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 10, 1, 0, 0, t0p, 5);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 10, 0x40, 1, 0,
		 "T=1 with 5 bytes: bError 1");
	memcpy(bad, t1p, 7);
	bad[1] = 0x00;
	xmsg(CCID_PC_SET_PARAMETERS, 0, 11, 1, 0, 0, bad, 7);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 11, 0x40, 11, 0,
		 "bad bmTCCKST1: bError 11");
	memcpy(bad, t1p, 7);
	bad[5] = 0xff;
	xmsg(CCID_PC_SET_PARAMETERS, 0, 12, 1, 0, 0, bad, 7);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 12, 0x40, 15, 0,
		 "bIFSC 0xff: bError 15");
	memcpy(bad, t0p, 5);
	bad[4] = 4;
	xmsg(CCID_PC_SET_PARAMETERS, 0, 13, 0, 0, 0, bad, 5);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 13, 0x40, 14, 0,
		 "bClockStop 4: bError 14");
	xmsg(CCID_PC_GET_PARAMETERS, 0, 14, 0, 0, 0, "x", 1);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 14, 0x40, 1, 0,
		 "GetParameters with data: bError 1");
	simple(CCID_PC_GET_PARAMETERS, 0, 15);
	ok(res.reply_len == 15 && !memcmp(out + 10, "\x11\x00\x00\x0a\x00", 5),
	   "failed SetParameters changed nothing");

	/* a T=1 card */
	setup(1, 1, 0);
	ccid_card_insert(E, 0, atr_t1, sizeof(atr_t1));
	simple(CCID_PC_ICC_POWER_ON, 0, 1);
	simple(CCID_PC_GET_PARAMETERS, 0, 2);
	ok(reply_is(17, CCID_RDR_PARAMETERS, 0, 2, 0x00, 0, 1,
		    "GetParameters, T=1 card") &&
	   !memcmp(out + 10, "\x11\x10\x00\x4d\x00\x20\x00", 7),
	   "T=1 defaults 11 10 00 4d 00 20 00");

	/* the same card in a T=0-only reader */
	ccid_config_default(&c);
	c.protocols = CCID_PROTO_T0;
	setup_cfg(&c);
	ccid_card_insert(E, 0, atr_t1, sizeof(atr_t1));
	simple(CCID_PC_GET_PARAMETERS, 0, 3);
	ok(res.reply_len == 15 && out[9] == 0,
	   "T=1 card, T=0-only reader: T=0");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 4, 1, 0, 0, t1p, 7);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 4, 0x41, 7, 0,
		 "SetParameters T=1 in a T=0-only reader: bError 7");

	/* inverse convention */
	setup(1, 1, 0);
	ccid_card_insert(E, 0, (const u8 *)"\x3f\x00", 2);
	simple(CCID_PC_GET_PARAMETERS, 0, 5);
	ok(res.reply_len == 15 && out[11] == 0x02,
	   "TS 3F: bmTCCKST0 convention bit");
	/* truncated ATR announcing interface bytes it lacks */
	setup(1, 1, 0);
	ccid_card_insert(E, 0, (const u8 *)"\x3b\xf0", 2);
	simple(CCID_PC_GET_PARAMETERS, 0, 6);
	ok(res.reply_len == 15 && out[9] == 0, "truncated ATR: T=0");
}

static void test_misc_commands(void)
{
	u8 buf[8];

	setup(1, 1, 0);
	xmsg(CCID_PC_SET_DATA_RATE_CLOCK, 0, 1, 0, 0, 0,
	     "\x00\x10\x00\x00\x00\x4b\x00\x00", 8);
	ok(reply_is(18, CCID_RDR_DATA_RATE_CLOCK, 0, 1, 0x02, 0, 0,
		    "SetDataRateAndClockFrequency") &&
	   le32(out + 10) == CCID_CLOCK_KHZ &&
	   le32(out + 14) == CCID_DATA_RATE_BPS,
	   "the fixed clock and data rate");
	xmsg(CCID_PC_SET_DATA_RATE_CLOCK, 0, 2, 0, 0, 0, "\x00\x10", 2);
	reply_is(10, CCID_RDR_DATA_RATE_CLOCK, 0, 2, 0x42, 1, 0,
		 "SetDataRateAndClockFrequency, 2 bytes: bError 1");

	xmsg(CCID_PC_ESCAPE, 0, 3, 0, 0, 0, "\x01\x02", 2);
	reply_is(10, CCID_RDR_ESCAPE, 0, 3, 0x42, 0, 0,
		 "Escape: not supported");
	xmsg(CCID_PC_SECURE, 0, 4, 0, 0, 0, "\x00\x00\x00", 3);
	reply_is(10, CCID_RDR_DATA_BLOCK, 0, 4, 0x42, 0, 0,
		 "Secure: DataBlock, not supported");
	xmsg(CCID_PC_MECHANICAL, 0, 5, 1, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 5, 0x42, 0, 0,
		 "Mechanical: SlotStatus, not supported");
	xmsg(CCID_PC_T0APDU, 0, 6, 1, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 6, 0x42, 0, 0,
		 "T0APDU: SlotStatus, not supported");

	xmsg(CCID_PC_ICC_CLOCK, 0, 7, 1, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 7, 0x42, CCID_ERR_ICC_MUTE, 0,
		 "IccClock without card: ICC mute");
	insert_power(0, atr_t0, sizeof(atr_t0));
	xmsg(CCID_PC_ICC_CLOCK, 0, 8, 1, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 8, 0x00, 0, 1,
		 "IccClock stop: bClockStatus 1");
	simple(CCID_PC_GET_SLOT_STATUS, 0, 9);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 9, 0x00, 0, 1,
		 "GetSlotStatus reports the clock stopped");
	xmsg(CCID_PC_ICC_CLOCK, 0, 10, 0, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 10, 0x00, 0, 0,
		 "IccClock restart: bClockStatus 0");
	xmsg(CCID_PC_ICC_CLOCK, 0, 11, 2, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 11, 0x40, 7, 0,
		 "bClockCommand 2: bError 7");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 12, 0, 0, 0,
	     "\x11\x00\x00\x0a\x02", 5);
	xmsg(CCID_PC_ICC_CLOCK, 0, 13, 1, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 13, 0x00, 0, 2,
		 "bClockStop 2 (high): bClockStatus 2");
	xfr(0, 14, 0, "\x00\xb0\x00\x00\x00", 5);
	ok(res.events & CCID_EV_APDU, "XfrBlock with the clock stopped");
	{
		u32 len;

		reply(E, 0, res.id, (const u8 *)"\x90\x00", 2, out,
				out_size, &len);
	}
	simple(CCID_PC_GET_SLOT_STATUS, 0, 15);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 15, 0x00, 0, 0,
		 "restarted the clock");
	simple(CCID_PC_ICC_POWER_OFF, 0, 16);
	xmsg(CCID_PC_ICC_CLOCK, 0, 17, 1, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 17, 0x41, CCID_ERR_ICC_MUTE, 0,
		 "IccClock on an unpowered card: ICC mute");

	memset(buf, 0xee, sizeof(buf));
	is_u(ccid_clock_frequencies(buf, sizeof(buf)), 4,
	     "GET_CLOCK_FREQUENCIES: 4 bytes");
	ok(le32(buf) == CCID_CLOCK_KHZ && buf[4] == 0xee, "the clock, LE");
	is_u(ccid_data_rates(buf, sizeof(buf)), 4, "GET_DATA_RATES: 4 bytes");
	ok(le32(buf) == CCID_DATA_RATE_BPS, "the data rate, LE");
	memset(buf, 0xee, sizeof(buf));
	is_u(ccid_data_rates(buf, 2), 2, "GET_DATA_RATES, wLength 2");
	ok(buf[0] == (CCID_DATA_RATE_BPS & 0xff) && buf[2] == 0xee,
	   "truncated, nothing written beyond");
}

static void test_stats(void)
{
	struct ccidg_stats s0;
	u32 len, id;

	setup(1, 1, 271);
	s0 = E->stats;
	insert_power(0, atr_t0, sizeof(atr_t0));		/* in 1, out 1 */
	simple(CCID_PC_GET_SLOT_STATUS, 0, 1);			/* in 1, out 1 */
	xfr(0, 2, 0, "\x00\xb0\x00\x00\x00", 5);		/* in 1 */
	id = res.id;
	ccid_time_extension(E, 0, 2, out, out_size, &len);	/* out 1 */
	reply(E, 0, id, msg, 300, out, out_size, &len); /* out 1 */
	xfr(0, 3, 0x10, NULL, 0);				/* in 1, out 1 */
	xfr(0, 4, 0x10, NULL, 0);		/* in 1, out 1, bad, error */
	simple(0x99, 0, 5);			/* in 1, out 1, bad, error */
	ok(E->stats.msgs_in - s0.msgs_in == 6, "msgs_in");
	ok(E->stats.msgs_out - s0.msgs_out == 7, "msgs_out");
	ok(E->stats.apdus - s0.apdus == 1, "apdus");
	ok(E->stats.replies - s0.replies == 1, "replies");
	ok(E->stats.time_ext - s0.time_ext == 1, "time_ext");
	ok(E->stats.bad_msgs - s0.bad_msgs == 2, "bad_msgs");
	ok(E->stats.errors - s0.errors == 2, "errors");
	is_u(E->stats.bytes_in - s0.bytes_in, 6 * 10 + 5, "bytes_in");
	is_u(E->stats.bytes_out - s0.bytes_out,
	     7 * 10 + sizeof(atr_t0) + 300, "bytes_out");
}

/* Build a message in the next buffer without handing it to the engine */
static u8 *raw_msg(u8 type, u8 slot, u8 seq, u16 level, const void *data,
		   u32 dlen)
{
	next_msg_buf();
	msg[0] = type;
	put_le32(msg + 1, dlen);
	msg[5] = slot;
	msg[6] = seq;
	msg[7] = 0;
	msg[8] = level & 0xff;
	msg[9] = level >> 8;
	if (dlen)
		memcpy(msg + 10, data, dlen);
	return msg;
}

/*
 * The copy jobs, driven by hand: what the engine leaves where it lies,
 * what it asks the caller to copy, and what happens to a job whose slot
 * was reset meanwhile.
 */
static void test_copy_jobs(void)
{
	static u8 big[600];
	struct ccid_result r2;
	const u8 *p = NULL;
	u32 i, id, gen, len = 0;
	u8 *m;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (u8)(i * 7);
	setup(2, 2, 271);
	insert_power(0, atr_t0, sizeof(atr_t0));
	insert_power(1, atr_t0, sizeof(atr_t0));

	/* a whole APDU stays in its message: no copy */
	m = raw_msg(CCID_PC_XFR_BLOCK, 0, 1, 0, big, 200);
	ccid_handle_msg(E, m, 210, out, out_size, &res);
	ok(res.events == (CCID_EV_APDU | CCID_EV_APDU_IN_MSG) &&
	   !res.reply_len, "whole APDU: pending in the message, no reply");
	id = res.id;
	ok(ccid_pending_apdu(E, 0, id, &p) == 200 && p == m + 10,
	   "ccid_pending_apdu points into the message itself");
	ok(ccid_id_pending(E, 0, id) && !ccid_id_pending(E, 0, id + 1) &&
	   !ccid_id_pending(E, 1, id) && !ccid_id_pending(E, 7, id),
	   "ccid_id_pending: that id on that slot only");
	ccid_apdu_consumed(E, 0, id);
	is_i(ccid_pending_apdu(E, 0, id, &p), -ESTALE,
	     "once consumed, the APDU is no longer handed out");
	ok(ccid_id_pending(E, 0, id), "but the command stays pending");
	is_i(ccid_apdu_check(E, 0, id, 2), 0, "apdu_check: may be answered");
	is_i(ccid_apdu_check(E, 0, id, 1), -EINVAL, "apdu_check: 1 byte refused");
	is_i(ccid_apdu_check(E, 0, id + 1, 2), -ESTALE, "apdu_check: other id stale");
	ok(ccid_id_pending(E, 0, id), "apdu_check changed nothing");
	reply(E, 0, id, (const u8 *)"\x90\x00", 2, out, out_size, &len);

	/* a chained command: each piece is a copy job */
	m = raw_msg(CCID_PC_XFR_BLOCK, 0, 2, 1, big, 261);
	ccid_handle_msg(E, m, 271, out, out_size, &res);
	ok(res.events == CCID_EV_CMD_COPY && !res.reply_len &&
	   res.copy_src == m + 10 && res.copy_len == 261 && res.copy_off == 0,
	   "first piece: a copy job of 261 bytes from the message, no reply yet");
	gen = res.gen;
	/* the slot is busy while the job is out; the other slot is not */
	xmsg(CCID_PC_GET_SLOT_STATUS, 0, 3, 0, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 3, 0x40, CCID_ERR_CMD_SLOT_BUSY,
		 0, "while the copy job is out: the slot answers busy");
	simple(CCID_PC_GET_SLOT_STATUS, 1, 4);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 4, 0x00, 0, 0,
		 "the other slot is served meanwhile");
	memcpy(res.copy_dst, big, 0);	/* (the copy was done above) */
	memcpy(E->slot[0].cmd_buf, big, 261);
	is_i(ccid_cmd_copied(E, 0, gen, out, out_size, &r2), 0, "copied: reported");
	ok(r2.reply_len == 10 && out[0] == CCID_RDR_DATA_BLOCK && out[6] == 2 &&
	   out[9] == 0x10, "then the empty DataBlock asks for the next piece");
	is_i(ccid_cmd_copied(E, 0, gen, out, out_size, &r2), -EINVAL,
	     "a second report of the same job: -EINVAL");
	m = raw_msg(CCID_PC_XFR_BLOCK, 0, 5, 2, big + 261, 100);
	ccid_handle_msg(E, m, 110, out, out_size, &res);
	ok(res.events == CCID_EV_CMD_COPY && res.copy_off == 261 &&
	   res.copy_dst == E->slot[0].cmd_buf + 261 && res.copy_len == 100,
	   "last piece: a copy job to offset 261 of the slot's buffer");
	memcpy(res.copy_dst, res.copy_src, res.copy_len);
	is_i(ccid_cmd_copied(E, 0, res.gen, out, out_size, &r2), 0,
	     "copied: reported");
	ok((r2.events & CCID_EV_APDU) && !(r2.events & CCID_EV_APDU_IN_MSG) &&
	   !r2.reply_len, "the joined APDU is pending, in the slot's buffer");
	ok(ccid_pending_apdu(E, 0, r2.id, &p) == 361 &&
	   p == E->slot[0].cmd_buf && !memcmp(p, big, 361),
	   "and it is the 361 bytes sent");

	/* a chained response, chunk by chunk */
	memcpy(out + 10, big, 261);
	is_i(ccid_apdu_reply(E, 0, r2.id, 600, out, out_size, &len), 0,
	     "a 600-byte response: accepted");
	ok(len == 271 && out[9] == 0x01 && le32(out + 1) == 261,
	   "its first chunk: 261 bytes, bChainParameter 01");
	m = raw_msg(CCID_PC_XFR_BLOCK, 0, 6, 0x10, NULL, 0);
	ccid_handle_msg(E, m, 10, out, out_size, &res);
	ok(res.events == CCID_EV_RSP_NEXT && !res.reply_len &&
	   res.copy_off == 261 && res.copy_len == 261,
	   "the host asks for more: a copy job for bytes 261..521");
	gen = res.gen;
	memcpy(out + 10, big + 261, 261);
	is_i(ccid_rsp_chunk(E, 0, gen, out, 10 + 260, &len), -EINVAL,
	     "rsp_chunk into a buffer too short: -EINVAL");
	is_i(ccid_rsp_chunk(E, 0, gen, out, out_size, &len), 0, "rsp_chunk: 0");
	ok(len == 271 && out[6] == 6 && out[9] == 0x03,
	   "the middle chunk goes out with the request's bSeq, bChainParameter 03");
	m = raw_msg(CCID_PC_XFR_BLOCK, 0, 7, 0x10, NULL, 0);
	ccid_handle_msg(E, m, 10, out, out_size, &res);
	ok(res.events == CCID_EV_RSP_NEXT && res.copy_off == 522 &&
	   res.copy_len == 78, "the last one: bytes 522..600");
	/* the host powers the card off before the chunk is ready */
	gen = res.gen;
	m = raw_msg(CCID_PC_ICC_POWER_OFF, 0, 8, 0, NULL, 0);
	ccid_handle_msg(E, m, 10, out, out_size, &res);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 8, 0x40, CCID_ERR_CMD_SLOT_BUSY,
		 0, "IccPowerOff while a copy job is out: busy");
	m = raw_msg(CCID_PC_ABORT, 0, 9, 0, NULL, 0);
	ccid_handle_msg(E, m, 10, out, out_size, &res);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 9, 0x00, 0, 0,
		 "PC_to_RDR_Abort is answered, and drops the response");
	is_i(ccid_rsp_chunk(E, 0, gen, out, out_size, &len), -ESTALE,
	     "the chunk copied for the dropped response: -ESTALE, nothing sent");
	simple(CCID_PC_GET_SLOT_STATUS, 0, 10);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 10, 0x00, 0, 0,
		 "the slot is served again once the job reported back");

	/* a command piece whose chain is dropped by a host reset */
	m = raw_msg(CCID_PC_XFR_BLOCK, 1, 11, 1, big, 261);
	ccid_handle_msg(E, m, 271, out, out_size, &res);
	gen = res.gen;
	ccid_host_reset(E);
	is_i(ccid_cmd_copied(E, 1, gen, out, out_size, &r2), -ESTALE,
	     "a piece copied across a host reset: -ESTALE");
	ok(!r2.reply_len && !r2.events, "and nothing to send");
	is_i(ccid_cmd_copied(E, 1, gen, out, out_size, &r2), -EINVAL,
	     "no job out any more: -EINVAL");
	is_i(ccid_cmd_copied(E, 9, gen, out, out_size, &r2), -EINVAL,
	     "slot out of range: -EINVAL");
	is_i(ccid_rsp_chunk(E, 1, gen, out, out_size, &len), -EINVAL,
	     "rsp_chunk without a job: -EINVAL");

	/* the caller gives up on a job: the chain goes, the slot serves */
	simple(CCID_PC_ICC_POWER_ON, 1, 11);	/* the reset powered it off */
	m = raw_msg(CCID_PC_XFR_BLOCK, 1, 12, 1, big, 261);
	ccid_handle_msg(E, m, 271, out, out_size, &res);
	ok(res.events == CCID_EV_CMD_COPY, "a piece: a copy job");
	gen = res.gen;
	ccid_copy_cancel(E, 1);
	is_i(ccid_cmd_copied(E, 1, gen, out, out_size, &r2), -EINVAL,
	     "after ccid_copy_cancel the job is gone");
	m = raw_msg(CCID_PC_XFR_BLOCK, 1, 13, 2, big, 10);
	ccid_handle_msg(E, m, 20, out, out_size, &res);
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 13, 0x40, 8, 0,
		 "its chain was dropped: a continuation is out of order");
	ccid_copy_cancel(E, 1);
	ccid_copy_cancel(E, 9);
	simple(CCID_PC_GET_SLOT_STATUS, 1, 14);
	reply_is(10, CCID_RDR_SLOT_STATUS, 1, 14, 0x00, 0, 0,
		 "cancelling with no job out changes nothing");
}

static void test_edge_paths(void)
{
	u32 len, id, aid;
	const u8 *p;

	/* the busy limit reached while a chain was being assembled */
	setup(2, 1, 271);
	insert_power(0, atr_t0, sizeof(atr_t0));
	insert_power(1, atr_t0, sizeof(atr_t0));
	xfr(1, 1, 1, "\x00\xa4", 2);
	xfr(0, 2, 0, "\x00\xb0\x00\x00\x00", 5);
	id = res.id;
	xfr(1, 3, 2, "\x04\x00", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 3, 0x40, CCID_ERR_CMD_SLOT_BUSY,
		 0, "chain ends while the busy limit is reached: E0");
	xfr(1, 4, 2, "\x04\x00", 2);
	reply_is(10, CCID_RDR_DATA_BLOCK, 1, 4, 0x40, 8, 0,
		 "and that chain was dropped");

	/* caller buffers too small: refused, state unchanged */
	is_i(reply(E, 0, id, (const u8 *)"\x90\x00", 2, out, 11, &len),
	     -EINVAL, "apdu_reply with a buffer short of header + data: -EINVAL");
	is_i(ccid_apdu_fail(E, 0, id, 0xfe, out, 9, &len), -EINVAL,
	     "apdu_fail with a 9-byte buffer: -EINVAL");
	is_i(ccid_card_remove(E, 0, out, 9, &len, &aid), -EINVAL,
	     "remove with a command pending and a 9-byte buffer: -EINVAL");
	is_i(ccid_class_abort(E, 0x0100, NULL, 0, &res), -EINVAL,
	     "class ABORT with a command pending and no buffer: -EINVAL");
	is_i(ccid_pending_apdu(E, 0, id, &p), 5,
	     "the command is still pending");
	reply(E, 0, id, (const u8 *)"\x90\x00", 2, out, out_size,
			&len);

	/* fixed-length commands carrying data */
	simple(CCID_PC_GET_SLOT_STATUS, 0, 5);
	xmsg(CCID_PC_GET_SLOT_STATUS, 0, 6, 0, 0, 0, "x", 1);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 6, 0x40, 1, 0,
		 "GetSlotStatus with data: bError 1");
	xmsg(CCID_PC_ICC_CLOCK, 0, 7, 0, 0, 0, "x", 1);
	reply_is(10, CCID_RDR_SLOT_STATUS, 0, 7, 0x40, 1, 0,
		 "IccClock with data: bError 1");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 8, 0, 0, 0, "\x11\x01\x00\x0a\x00",
	     5);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 8, 0x40, 11, 0,
		 "T=0 bmTCCKST0 0x01: bError 11");
	xmsg(CCID_PC_SET_PARAMETERS, 0, 9, 0, 0, 0, NULL, 0);
	reply_is(10, CCID_RDR_PARAMETERS, 0, 9, 0x40, 1, 0,
		 "SetParameters without data: bError 1");
	ccid_card_remove(E, 1, out, out_size, &len, &aid);
	xmsg(CCID_PC_SET_PARAMETERS, 1, 10, 0, 0, 0, "\x11\x00\x00\x0a\x00",
	     5);
	reply_is(10, CCID_RDR_PARAMETERS, 1, 10, 0x42, CCID_ERR_ICC_MUTE, 0,
		 "SetParameters without card: ICC mute");
	simple(CCID_PC_RESET_PARAMETERS, 1, 11);
	reply_is(10, CCID_RDR_PARAMETERS, 1, 11, 0x42, CCID_ERR_ICC_MUTE, 0,
		 "ResetParameters without card: ICC mute");
}

int main(void)
{
	unsigned int i;

	for (i = 0; i < NMSG; i++) {
		msgs[i] = malloc(CCID_MAX_MSG_LEN + 16);
		if (!msgs[i]) {
			printf("Bail out! out of memory\n");
			return 1;
		}
	}
	for (i = 0; i < CCID_MAX_SLOTS; i++) {
		rsp_keep[i] = malloc(CCID_MAX_RSP_APDU);
		if (!rsp_keep[i]) {
			printf("Bail out! out of memory\n");
			return 1;
		}
	}
	next_msg_buf();
	test_config();
	test_descriptor();
	test_framing();
	test_short_and_bad();
	test_power();
	test_xfr_simple();
	test_ids();
	test_chaining(271);
	test_chaining(1024);
	test_chaining(0);	/* the default */
	test_chain_errors();
	test_busy_slots();
	test_time_extension();
	test_abort();
	test_notify();
	test_parameters();
	test_misc_commands();
	test_stats();
	test_copy_jobs();
	test_edge_paths();
	for (i = 0; i < NMSG; i++)
		free(msgs[i]);
	for (i = 0; i < CCID_MAX_SLOTS; i++)
		free(rsp_keep[i]);
	free(ebuf);
	free(out);
	return tap_done();
}
